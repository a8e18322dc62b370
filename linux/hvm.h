/*
 * hvmetal.ko: what the driver's files share (docs/linux.md).
 *
 * hvm_dev.c   the misc device, open/release, the call ioctl (allowlist, dispatch), stats
 * hvm_vm.c    VMs of an open file, guest memory (pinned while mapped)
 * hvm_vcpu.c  vCPUs: the owning thread, following it to its CPU (VCPU_ADOPT), the run loop
 */
#ifndef HVM_H
#define HVM_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/xarray.h>
#include <Hypervisor/hv_error.h>
#include <hvmetal/abi.h>
#include <hvmetal/hvmetal_dev.h>

#define HVM_VCPUS	64	/* HV_CAP_VCPUMAX: vCPU ids are 0..63 */

/* The registers of one VMCALL: in before, out after (abi.h says which). */
struct hvm_regs {
	u64 rax, rdi, rsi, rdx, rcx, r8, r9;
};

/* One VMCALL. hvmetal preserves every register it does not answer in. */
static inline void hvm_vmcall(struct hvm_regs *r)
{
	register u64 r8 asm("r8") = r->r8;
	register u64 r9 asm("r9") = r->r9;

	asm volatile("vmcall"
		     : "+a"(r->rax), "+D"(r->rdi), "+S"(r->rsi), "+d"(r->rdx), "+c"(r->rcx),
		       "+r"(r8), "+r"(r9)
		     : : "memory", "cc");
	r->r8 = r8;
	r->r9 = r9;
}

/* A call with up to four arguments and no pointer; *rdx (if not NULL) gets RDX. */
static inline hv_return_t hvm_call(u64 nr, u64 a0, u64 a1, u64 a2, u64 a3, u64 *rdx)
{
	struct hvm_regs r = { .rax = nr, .rdi = a0, .rsi = a1, .rdx = a2, .rcx = a3 };

	hvm_vmcall(&r);
	if (rdx)
		*rdx = r.rdx;
	return (hv_return_t)r.rax;
}

struct hvm_vcpu {
	struct pid *owner;	/* the creating thread; NULL: no vCPU. Under vm->vcpu_lock */
	int cpu;		/* the CPU hvmetal has it on: only the owner's calls touch it */
};

/*
 * A VM this open file created. Alive while on the file's list or used by a call
 * (ref); a VM hvmetal destroyed has dead set and answers nothing more (its handle
 * is stale in hvmetal too: handles carry a generation).
 */
struct hvm_vm {
	struct list_head node;	/* in hvm_file.vms, under hvm_file.lock */
	struct kref ref;
	u64 handle;		/* hvmetal's; constant */
	struct mutex lock;	/* dead, pins: memory calls and VM_DESTROY in turn */
	bool dead;
	spinlock_t vcpu_lock;	/* vcpu[].owner */
	struct hvm_vcpu vcpu[HVM_VCPUS];
	/*
	 * Guest pages pinned while mapped: index (asid << 36 | gfn) -> struct page *,
	 * HVM_PIN_WRITABLE marked when pinned for writing.
	 */
	struct xarray pins;
	unsigned int lsc_pins;	/* of them, load-store-cache code pages (under lock) */
};

#define HVM_PIN_WRITABLE	XA_MARK_0
#define HVM_GFN_BITS		36	/* 256 TiB of guest-physical space (docs/abi.md) */
#define HVM_ASID_MAX		0xffff
/* Load-store-cache code pages, by pfn, above every guest page's index; at most this many per VM. */
#define HVM_LSC_PIN_BASE	((unsigned long)(HVM_ASID_MAX + 1) << HVM_GFN_BITS)
#define HVM_LSC_PINS_MAX	1024

/* One open /dev/hvmetal: Apple's "task". */
struct hvm_file {
	struct mutex lock;	/* vms */
	struct list_head vms;
};

/* For HVMETAL_IOC_STATS. */
struct hvm_stats {
	atomic_long_t pinned_pages;
	atomic_long_t vms, vcpus, running, adopts, run_again;
};
extern struct hvm_stats hvm_stats;

/* hvm_vm.c */
struct hvm_vm *hvm_vm_get(struct hvm_file *f, u64 handle);
void hvm_vm_put(struct hvm_vm *vm);
hv_return_t hvm_vm_create(struct hvm_file *f, struct hvm_regs *r);
hv_return_t hvm_vm_lsc_enter(struct hvm_vm *vm, struct hvm_regs *r);
hv_return_t hvm_vm_destroy(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r);
hv_return_t hvm_vm_map(struct hvm_vm *vm, struct hvm_regs *r);
hv_return_t hvm_vm_unmap(struct hvm_vm *vm, struct hvm_regs *r);
hv_return_t hvm_vm_protect(struct hvm_vm *vm, struct hvm_regs *r);
hv_return_t hvm_vm_space_destroy(struct hvm_vm *vm, struct hvm_regs *r);
void hvm_vm_release(struct hvm_vm *vm);

/* hvm_vcpu.c */
hv_return_t hvm_vcpu_owned(struct hvm_vm *vm, u64 id);
hv_return_t hvm_vcpu_call(struct hvm_vm *vm, unsigned int id, struct hvm_regs *r);
hv_return_t hvm_vcpu_create(struct hvm_vm *vm, struct hvm_regs *r);
hv_return_t hvm_vcpu_destroy(struct hvm_vm *vm, struct hvm_regs *r);
hv_return_t hvm_vcpu_run(struct hvm_vm *vm, struct hvm_regs *r);
bool hvm_vcpus_release(struct hvm_vm *vm);

#endif
