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
#include "pool.h"
#include "spinlock.h"

#define VM_MAX		16
#define VM_VCPUS_MAX	64	/* HV_CAP_VCPUMAX */

struct vm {
	uint64_t handle;		/* 0 when the slot is free; set under vm_table_lock */
	uint64_t options;		/* hv_vm_options_t given at create */
	struct spinlock lock;		/* protects everything below */
	struct ept *spaces;		/* space_pages pages from the pool; pml4 == NULL: unused */
	uint32_t space_pages;
	uint32_t nspaces;		/* in use, the default one included */
};

void vm_init(struct pool *pool, uint64_t gpa_limit);
hv_return_t vm_create(uint64_t options, uint64_t *handle);
hv_return_t vm_destroy(uint64_t handle);
/* The VM named by handle, locked; NULL when there is none. vm_put unlocks. */
struct vm *vm_get(uint64_t handle);
void vm_put(struct vm *vm);
/* On a locked VM: */
hv_return_t vm_space_create(struct vm *vm, uint32_t *asid);
hv_return_t vm_space_destroy(struct vm *vm, uint32_t asid);
struct ept *vm_space(struct vm *vm, uint32_t asid);
uint64_t vm_table_pages(const struct vm *vm);
/* HV_CAP_ADDRSPACEMAX: how many spaces the pool could hold if it held nothing else. */
uint64_t vm_spaces_max(void);

#endif
