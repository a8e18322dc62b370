// SPDX-License-Identifier: GPL-2.0
/*
 * hvmetal.ko: /dev/hvmetal, through which a process uses hvmetal's hypercalls
 * (docs/abi.md) and so Apple's Hypervisor API (libhv). Access is by the device
 * node's permissions (0600 root). Each open file is a "task" of Apple's: the VMs
 * it creates are its own and die with it.
 *
 * HVMETAL_IOC_CALL forwards one hypercall after checking it against hvm_calls[]:
 * call numbers outside the table are HV_UNSUPPORTED, a VM handle this file did not
 * create is HV_BAD_ARGUMENT, a call on a vCPU from a thread other than the one that
 * created it is HV_DENIED. Every forwarded call carries HVMETAL_HC_USER, so its
 * pointers are checked by hvmetal as the process's own (CPL 3) accesses.
 *
 * Without hvmetal underneath (no CPUID signature, or another ABI version) the module
 * loads, says "hvmetal: absent", and open() fails with ENODEV (libhv: HV_NO_DEVICE).
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/processor.h>
#include <Hypervisor/hv_intr.h>
#include "hvm.h"

struct hvm_stats hvm_stats;
static bool hvm_present;

/* What the dispatcher checks before a call, and what it calls. */
enum hvm_kind {
	HVM_REFUSED = 0,	/* not in the table: HV_UNSUPPORTED */
	HVM_GLOBAL,		/* no VM argument */
	HVM_VM,			/* RDI: a VM of this file */
	HVM_VCPU,		/* RDI: a VM of this file, RSI: a vCPU the calling thread owns */
};

/* Registers 1..6 of a call are its arguments RDI, RSI, RDX, RCX, R8, R9. */
enum hvm_arg { HVM_NONE, HVM_RDI, HVM_RSI, HVM_RDX, HVM_RCX, HVM_R8 };

struct hvm_call {
	u8 kind;
	u8 ptr;			/* argument that is a pointer into the process (hvm_arg) */
	u8 len;			/* argument with its size; HVM_NONE: fixed_len */
	bool in;		/* hvmetal reads the buffer (else it writes it) */
	u16 fixed_len;
	/* NULL: forwarded as it is (a vCPU call on the vCPU's CPU) */
	hv_return_t (*fn)(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r);
};

static hv_return_t hvm_do_vm_create(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	return hvm_vm_create(f, r);
}

static hv_return_t hvm_do_vm_destroy(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	return hvm_vm_destroy(f, vm, r);
}

static hv_return_t hvm_do_map(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	return hvm_vm_map(vm, r);
}

static hv_return_t hvm_do_unmap(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	return hvm_vm_unmap(vm, r);
}

static hv_return_t hvm_do_protect(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	return hvm_vm_protect(vm, r);
}

static hv_return_t hvm_do_space_destroy(struct hvm_file *f, struct hvm_vm *vm,
					struct hvm_regs *r)
{
	return hvm_vm_space_destroy(vm, r);
}

static hv_return_t hvm_do_vcpu_create(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	return hvm_vcpu_create(vm, r);
}

static hv_return_t hvm_do_vcpu_destroy(struct hvm_file *f, struct hvm_vm *vm,
				       struct hvm_regs *r)
{
	return hvm_vcpu_destroy(vm, r);
}

static hv_return_t hvm_do_lsc(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	return hvm_vm_lsc_enter(vm, r);
}

static hv_return_t hvm_do_run(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	return hvm_vcpu_run(vm, r);
}

#define OUT(arg, size)		.ptr = (arg), .fixed_len = (size)
#define IN(arg, size)		.ptr = (arg), .fixed_len = (size), .in = true
#define OUT_LEN(arg, larg)	.ptr = (arg), .len = (larg)
#define IN_LEN(arg, larg)	.ptr = (arg), .len = (larg), .in = true

/* The calls a process may make. VCPU_ADOPT is the driver's own. */
static const struct hvm_call hvm_calls[] = {
	[HVMETAL_HC_VERSION]		= { HVM_GLOBAL },
	[HVMETAL_HC_INFO]		= { HVM_GLOBAL, OUT_LEN(HVM_RDI, HVM_RSI) },
	[HVMETAL_HC_SELFCHECK]		= { HVM_GLOBAL,
					    OUT(HVM_RDI, sizeof(struct hvmetal_selfcheck)) },
	[HVMETAL_HC_CAPABILITY]		= { HVM_GLOBAL },
	[HVMETAL_HC_VM_CREATE]		= { HVM_GLOBAL, .fn = hvm_do_vm_create },
	[HVMETAL_HC_VM_DESTROY]		= { HVM_VM, .fn = hvm_do_vm_destroy },
	[HVMETAL_HC_VM_SPACE_CREATE]	= { HVM_VM },
	[HVMETAL_HC_VM_SPACE_DESTROY]	= { HVM_VM, .fn = hvm_do_space_destroy },
	[HVMETAL_HC_VM_MAP]		= { HVM_VM, .fn = hvm_do_map },
	[HVMETAL_HC_VM_UNMAP]		= { HVM_VM, .fn = hvm_do_unmap },
	[HVMETAL_HC_VM_PROTECT]		= { HVM_VM, .fn = hvm_do_protect },
	[HVMETAL_HC_VM_TRANSLATE]	= { HVM_VM,
					    OUT(HVM_RCX, sizeof(struct hvmetal_translation)) },
	[HVMETAL_HC_VM_STATS]		= { HVM_VM, OUT(HVM_RSI, sizeof(struct hvmetal_vm_stats)) },
	[HVMETAL_HC_VM_SYNC_TSC]	= { HVM_VM },
	[HVMETAL_HC_VCPU_CREATE]	= { HVM_VM, .fn = hvm_do_vcpu_create },
	[HVMETAL_HC_VCPU_DESTROY]	= { HVM_VCPU, .fn = hvm_do_vcpu_destroy },
	[HVMETAL_HC_VCPU_SET_SPACE]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_READ_REG]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_WRITE_REG]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_READ_FPSTATE]	= { HVM_VCPU, OUT_LEN(HVM_RDX, HVM_RCX) },
	[HVMETAL_HC_VCPU_WRITE_FPSTATE]	= { HVM_VCPU, IN_LEN(HVM_RDX, HVM_RCX) },
	[HVMETAL_HC_VCPU_MSR_ACCESS]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_READ_MSR]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_WRITE_MSR]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_INVALIDATE_TLB] = { HVM_VCPU },
	[HVMETAL_HC_VCPU_RUN]		= { HVM_VCPU, .fn = hvm_do_run },
	[HVMETAL_HC_VCPU_INTERRUPT]	= { HVM_VM },	/* from any thread (Apple's too) */
	[HVMETAL_HC_VCPU_TIME]		= { HVM_VCPU },
	[HVMETAL_HC_VCPU_SET_TSC_OFFSET] = { HVM_VCPU },
	[HVMETAL_HC_VCPU_VMX_STATUS]	= { HVM_VCPU },
	[HVMETAL_HC_VMX_READ_VMCS]	= { HVM_VCPU },
	[HVMETAL_HC_VMX_WRITE_VMCS]	= { HVM_VCPU },
	[HVMETAL_HC_VMX_CAP_WRITE_VMCS]	= { HVM_VCPU },
	[HVMETAL_HC_VMX_READ_CAPABILITY] = { HVM_GLOBAL },
	[HVMETAL_HC_VMX_MSR_INFO]	= { HVM_GLOBAL },
	[HVMETAL_HC_VMX_READ_SHADOW]	= { HVM_VCPU },
	[HVMETAL_HC_VMX_WRITE_SHADOW]	= { HVM_VCPU },
	[HVMETAL_HC_VMX_SHADOW_ACCESS]	= { HVM_VCPU },
	[HVMETAL_HC_VMX_SET_APIC_ADDRESS] = { HVM_VCPU },
	/*
	 * APIC acceleration (HV_VM_ACCEL_APIC VMs; hvmetal answers HV_UNSUPPORTED on
	 * others). vCPU calls: the owning thread only, as Apple's.
	 */
	[HVMETAL_HC_VCPU_APIC_CTRL]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_APIC_READ]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_APIC_WRITE]	= { HVM_VCPU },
	/* hvmetal reads the version first, then writes the state: faulted in writable. */
	[HVMETAL_HC_VCPU_APIC_GET_STATE] = { HVM_VCPU, OUT(HVM_RDX, sizeof(hv_apic_state_ext_t)) },
	[HVMETAL_HC_VCPU_APIC_PUT_STATE] = { HVM_VCPU, IN(HVM_RDX, sizeof(hv_apic_state_ext_t)) },
	[HVMETAL_HC_VCPU_APIC_TRIGGER_LVT] = { HVM_VCPU },
	/* RDX 0: invalidate the cache; an entry's code pages are pinned (hvm_vm_lsc_enter). */
	[HVMETAL_HC_VCPU_APIC_LSC]	= { HVM_VCPU, .fn = hvm_do_lsc },
	[HVMETAL_HC_VCPU_INJECT_EXTINT]	= { HVM_VCPU },
	[HVMETAL_HC_VCPU_EXIT_INFO]	= { HVM_VCPU, OUT(HVM_RDX, sizeof(struct hvmetal_exit_info)) },
	[HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE] = { HVM_VCPU },
	/* VM-wide: any thread of the process that made the VM, as Apple's. */
	[HVMETAL_HC_VM_LAPIC_SET_INTR]	= { HVM_VM },
	[HVMETAL_HC_VM_LAPIC_MSI]	= { HVM_VM },
	[HVMETAL_HC_VM_IOAPIC_INTR]	= { HVM_VM },
	[HVMETAL_HC_VM_APIC_BUS_FREQ]	= { HVM_VM },
	[HVMETAL_HC_VM_IOAPIC_IRQ]	= { HVM_VM },
	[HVMETAL_HC_VM_IOAPIC_MMIO]	= { HVM_VM },
	[HVMETAL_HC_VM_IOAPIC_GET_STATE] = { HVM_VM, OUT(HVM_RSI, sizeof(hv_ioapic_state_ext_t)) },
	[HVMETAL_HC_VM_IOAPIC_PUT_STATE] = { HVM_VM, IN(HVM_RSI, sizeof(hv_ioapic_state_ext_t)) },
	[HVMETAL_HC_VM_ATPIC_IRQ]	= { HVM_VM },
	[HVMETAL_HC_VM_ATPIC_PORT]	= { HVM_VM },
	[HVMETAL_HC_VM_ATPIC_GET_STATE]	= { HVM_VM, OUT(HVM_RSI, sizeof(hv_atpic_state_ext_t)) },
	[HVMETAL_HC_VM_ATPIC_PUT_STATE]	= { HVM_VM, IN(HVM_RSI, sizeof(hv_atpic_state_ext_t)) },
};
/* Reaches the last call number (an entry left out inside is HVM_REFUSED: HV_UNSUPPORTED). */
static_assert(ARRAY_SIZE(hvm_calls) == HVMETAL_HC_COUNT, "the table reaches HVMETAL_HC_COUNT");

/* At most this much of a buffer is faulted in: more than any XSAVE area. */
#define HVM_FAULT_IN_MAX	(64u << 10)

static u64 hvm_arg(const struct hvm_regs *r, unsigned int arg)
{
	switch (arg) {
	case HVM_RDI: return r->rdi;
	case HVM_RSI: return r->rsi;
	case HVM_RDX: return r->rdx;
	case HVM_RCX: return r->rcx;
	case HVM_R8: return r->r8;
	default: return 0;
	}
}

/*
 * hvmetal walks the process's page tables and does not fault pages in: the
 * call's buffer is made present first (an untouched allocation has no pages yet).
 */
static hv_return_t hvm_fault_in(const struct hvm_call *c, const struct hvm_regs *r)
{
	const char __user *p = (const char __user *)(uintptr_t)hvm_arg(r, c->ptr);
	u64 len = c->len ? hvm_arg(r, c->len) : c->fixed_len;

	len = min_t(u64, len, HVM_FAULT_IN_MAX);
	/*
	 * hvmetal judges a size of 0 and a NULL pointer: its walk finds no page at 0
	 * (HV_BAD_ARGUMENT, after the calls it checks first: HV_UNSUPPORTED on a VM
	 * without APIC acceleration), and VCPU_APIC_LSC takes 0 for "invalidate".
	 */
	if (!len || !p)
		return HV_SUCCESS;
	if (!access_ok(p, len))
		return HV_BAD_ARGUMENT;
	if (c->in ? fault_in_readable(p, len) : fault_in_safe_writeable(p, len))
		return HV_BAD_ARGUMENT;
	return HV_SUCCESS;
}

/* The call as the table says: its buffer made present, then its handler or hvmetal. */
static hv_return_t hvm_forward(const struct hvm_call *c, struct hvm_file *f, struct hvm_vm *vm,
			       struct hvm_regs *r)
{
	hv_return_t res = c->ptr ? hvm_fault_in(c, r) : HV_SUCCESS;

	if (res != HV_SUCCESS)
		return res;
	if (c->fn)
		return c->fn(f, vm, r);
	if (c->kind == HVM_VCPU)
		return hvm_vcpu_call(vm, (unsigned int)r->rsi, r);
	hvm_vmcall(r);
	return (hv_return_t)r->rax;
}

static hv_return_t hvm_dispatch(struct hvm_file *f, u64 nr, struct hvm_regs *r)
{
	const struct hvm_regs in = *r;
	const struct hvm_call *c;
	struct hvm_vm *vm = NULL;
	hv_return_t res = HV_SUCCESS;

	if (nr >= ARRAY_SIZE(hvm_calls) || hvm_calls[nr].kind == HVM_REFUSED)
		return HV_UNSUPPORTED;
	c = &hvm_calls[nr];
	if (c->kind != HVM_GLOBAL) {
		vm = hvm_vm_get(f, r->rdi);
		if (!vm)
			return HV_BAD_ARGUMENT;
	}
	if (c->kind == HVM_VCPU)
		res = hvm_vcpu_owned(vm, r->rsi);
	if (res == HV_SUCCESS)
		res = hvm_forward(c, f, vm, r);
	/*
	 * Memory reclaim may take a buffer's page between the fault-in and hvmetal's
	 * walk: such a call (it reads state or copies a buffer) is tried once more.
	 */
	if (res == HV_BAD_ARGUMENT && c->ptr) {
		*r = in;
		res = hvm_forward(c, f, vm, r);
	}
	if (vm)
		hvm_vm_put(vm);
	return res;
}

static long hvm_ioctl_call(struct hvm_file *f, struct hvmetal_dev_call __user *uc)
{
	struct hvmetal_dev_call c;
	struct hvm_regs r;

	if (copy_from_user(&c, uc, sizeof(c)))
		return -EFAULT;
	r = (struct hvm_regs){
		.rax = (c.nr & HVMETAL_HC_NR_MASK) | HVMETAL_HC_USER,
		.rdi = c.arg[0], .rsi = c.arg[1], .rdx = c.arg[2],
		.rcx = c.arg[3], .r8 = c.arg[4], .r9 = c.arg[5],
	};
	/* Flags are the driver's to set: a number with any is not in the table. */
	c.rax = HVMETAL_RAX(hvm_dispatch(f, c.nr, &r));
	c.rdx = r.rdx;
	c.rcx = r.rcx;
	c.rsi = r.rsi;
	c.rdi = r.rdi;
	c.r8 = r.r8;
	c.r9 = r.r9;
	return copy_to_user(uc, &c, sizeof(c)) ? -EFAULT : 0;
}

static long hvm_ioctl_stats(struct hvmetal_dev_stats __user *us)
{
	struct hvmetal_dev_stats s = {
		.pinned_pages = atomic_long_read(&hvm_stats.pinned_pages),
		.vms = atomic_long_read(&hvm_stats.vms),
		.vcpus = atomic_long_read(&hvm_stats.vcpus),
		.running = atomic_long_read(&hvm_stats.running),
		.adopts = atomic_long_read(&hvm_stats.adopts),
		.run_again = atomic_long_read(&hvm_stats.run_again),
	};
	struct hvmetal_info info;

	BUILD_BUG_ON(sizeof(s.info) != sizeof(info));
	/* A kernel buffer: walked as CPL 0, so no HVMETAL_HC_USER. */
	s.info_result = HVMETAL_RAX(hvm_call(HVMETAL_HC_INFO, (u64)(uintptr_t)&info, sizeof(info),
						0, 0, NULL));
	if (s.info_result == HV_SUCCESS)
		memcpy(&s.info, &info, sizeof(info));
	return copy_to_user(us, &s, sizeof(s)) ? -EFAULT : 0;
}

static long hvm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case HVMETAL_IOC_CALL:
		return hvm_ioctl_call(file->private_data, (void __user *)arg);
	case HVMETAL_IOC_STATS:
		return hvm_ioctl_stats((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static int hvm_open(struct inode *inode, struct file *file)
{
	struct hvm_file *f;

	if (!hvm_present)
		return -ENODEV;
	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	INIT_LIST_HEAD(&f->vms);
	file->private_data = f;
	return 0;
}

/* Last reference gone (close, exit, kill -9 mid-run): nothing of the file outlives it. */
static int hvm_release(struct inode *inode, struct file *file)
{
	struct hvm_file *f = file->private_data;
	struct hvm_vm *vm, *next;

	list_for_each_entry_safe(vm, next, &f->vms, node) {
		hvm_vm_release(vm);
		list_del(&vm->node);
		hvm_vm_put(vm);
	}
	kfree(f);
	return 0;
}

static const struct file_operations hvm_fops = {
	.owner = THIS_MODULE,
	.open = hvm_open,
	.release = hvm_release,
	.unlocked_ioctl = hvm_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice hvm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "hvmetal",
	.fops = &hvm_fops,
	.mode = 0600,
};

/* hvmetal's CPUID signature (never a VMCALL without it), then its ABI version. */
static bool hvm_detect(void)
{
	u32 a, b, c, d;
	u64 version = 0;

	if (!boot_cpu_has(X86_FEATURE_HYPERVISOR))
		return false;
	cpuid(HVMETAL_CPUID_SIGNATURE, &a, &b, &c, &d);
	if (b != HVMETAL_CPUID_SIG_EBX || c != HVMETAL_CPUID_SIG_ECX ||
	    d != HVMETAL_CPUID_SIG_EDX || a < HVMETAL_CPUID_FEATURES)
		return false;
	if (hvm_call(HVMETAL_HC_VERSION, 0, 0, 0, 0, &version) != HV_SUCCESS ||
	    version != HVMETAL_ABI_VERSION) {
		pr_info("hvmetal: ABI version %llu, this driver speaks %u\n", version,
			HVMETAL_ABI_VERSION);
		return false;
	}
	return true;
}

static int __init hvm_init(void)
{
	struct hvmetal_info info;
	int err;

	hvm_present = hvm_detect();
	err = misc_register(&hvm_misc);
	if (err)
		return err;
	if (!hvm_present) {
		pr_info("hvmetal: absent: /dev/hvmetal answers ENODEV\n");
		return 0;
	}
	if (hvm_call(HVMETAL_HC_INFO, (u64)(uintptr_t)&info, sizeof(info), 0, 0, NULL) == HV_SUCCESS)
		pr_info("hvmetal: ABI %u on %u CPUs, pool %llu of %llu KiB free: /dev/hvmetal\n",
			info.abi_version, info.cpu_count, info.pool_free >> 10,
			info.pool_total >> 10);
	return 0;
}

static void __exit hvm_exit(void)
{
	misc_deregister(&hvm_misc);
}

module_init(hvm_init);
module_exit(hvm_exit);
MODULE_DESCRIPTION("hvmetal: Apple's Hypervisor API for processes, through /dev/hvmetal");
MODULE_LICENSE("GPL");
