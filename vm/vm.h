/*
 * Guest VMs as the control domain sees them through the hypercall ABI: a small
 * table of VMs, each with as many guest address spaces as the pool holds (one
 * EPT hierarchy each; space 0 is the default one and lives as long as the VM).
 */
#ifndef HVMETAL_VM_H
#define HVMETAL_VM_H

#include <stdint.h>
#include <Hypervisor/hv_error.h>
#include "ept/ept.h"
#include "kernel/bootinfo.h"
#include "kernel/pool.h"
#include "kernel/spinlock.h"

#define VM_MAX		16
#define VM_VCPUS_MAX	64	/* HV_CAP_VCPUMAX */

#define VM_SPACE_PAGES	512	/* the space directory: one page of page pointers */

struct vcpu;
struct vapic;

struct vm {
	uint64_t handle;		/* 0 when the slot is free; set under vm_table_lock */
	uint64_t options;		/* hv_vm_options_t given at create */
	uint32_t slot;			/* index in the VM table, constant */
	struct spinlock lock;		/* protects everything below */
	/*
	 * Spaces by asid: pages of struct ept that never move, so a running vCPU
	 * may keep a pointer to its space; pml4 == NULL: unused.
	 */
	struct ept **space_dir;
	uint32_t nspaces;		/* in use, the default one included */
	uint32_t space_hint;		/* no free asid below this one */
	struct vcpu *vcpus[VM_VCPUS_MAX];
	uint32_t nvcpus;
	struct vcpu *free_vcpus;	/* destroyed vCPUs' own pages, kept until the VM goes */
	void *apic_access_page;		/* hv_vmx_vcpu_set_apic_address's page, made on first use */
	struct vapic *apic;		/* HV_VM_ACCEL_APIC: the interrupt controllers (vapic.h), else NULL */
	uint32_t holds;			/* calls using the VM unlocked (vm_hold); atomics */
	/*
	 * Per control-domain CPU, the space its call keeps using while the lock is
	 * dropped (a map translating pages, a sync waiting for other CPUs), else
	 * NULL; nbusy counts them.  Neither that space nor the VM can be destroyed
	 * meanwhile (HV_BUSY).
	 */
	struct ept *busy[HV_MAX_CPUS];
	uint32_t nbusy;
};

void vm_init(struct pool *pool, uint64_t gpa_limit);
hv_return_t vm_create(uint64_t options, uint64_t *handle);
hv_return_t vm_destroy(uint64_t handle);
/* The VM named by handle, locked; NULL when there is none. vm_put unlocks. */
struct vm *vm_get(uint64_t handle);
void vm_put(struct vm *vm);
/* Locks a VM again while this CPU holds one of its spaces (vm_space_hold): it cannot go. */
void vm_lock(struct vm *vm);
extern struct vm vms[VM_MAX];

/*
 * On a locked VM: keeps it (and its vCPUs' pages) alive after vm_put, for a call
 * that must wait for other CPUs without the lock; vm_destroy is HV_BUSY until
 * vm_release. No lock is needed to release.
 */
static inline void vm_hold(struct vm *vm)
{
	__atomic_add_fetch(&vm->holds, 1, __ATOMIC_ACQ_REL);
}

static inline void vm_release(struct vm *vm)
{
	__atomic_sub_fetch(&vm->holds, 1, __ATOMIC_ACQ_REL);
}

/* The VM named by handle, unlocked: only for callers something else keeps it alive for. */
static inline struct vm *vm_peek(uint64_t handle)
{
	uint64_t slot = (handle & 0xff) - 1;

	return slot < VM_MAX && __atomic_load_n(&vms[slot].handle, __ATOMIC_ACQUIRE) == handle ?
	       &vms[slot] : NULL;
}
/* On a locked VM: */
hv_return_t vm_space_create(struct vm *vm, uint32_t *asid);
hv_return_t vm_space_destroy(struct vm *vm, uint32_t asid);
struct ept *vm_space(struct vm *vm, uint32_t asid);
/* This CPU's call keeps using e after vm_put; vm_space_release (locked) ends that. */
void vm_space_hold(struct vm *vm, struct ept *e);
void vm_space_release(struct vm *vm);
uint64_t vm_table_pages(const struct vm *vm);
/* HV_CAP_ADDRSPACEMAX: how many spaces the pool could hold if it held nothing else
 * (and the directory's limit). */
uint64_t vm_spaces_max(void);

#endif
