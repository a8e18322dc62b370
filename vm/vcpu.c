#include <stddef.h>
#include <Hypervisor/hv.h>
#include <Hypervisor/hv_arch_x86.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_vmx.h>
#include <hvmetal/abi.h>
#include "kernel/cpu.h"
#include "kernel/guest_pt.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "kernel/string.h"
#include "kernel/xstate.h"
#include "vapic.h"
#include "vcpu.h"
#include "vcpu_apic.h"
#include "vcpu_apicv.h"
#include "vcpu_regs.h"
#include "vm.h"
#include "vmx/vmcs.h"
#include "vmx/vmcs_policy.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"

#define SHADOW_VMCS_INDICATOR	(1u << 31)

#define VPID_FIRST_GUEST	2	/* 1 is the control domain's */

static uint32_t xstate_size;		/* XSAVE area for every component the CPU has */
uint64_t xstate_supported;		/* XCR0 bits the CPU supports */
static uint32_t mxcsr_mask;

extern void vcpu_exit_entry(void);	/* vcpu_entry.asm */

const uint32_t vcpu_swapped_msr[VCPU_MSR_SWAPPED] = {
	[VCPU_MSR_STAR]		= 0xc0000081,
	[VCPU_MSR_LSTAR]	= 0xc0000082,
	[VCPU_MSR_CSTAR]	= 0xc0000083,
	[VCPU_MSR_SFMASK]	= 0xc0000084,
	[VCPU_MSR_KGSBASE]	= 0xc0000102,
	[VCPU_MSR_TSC_AUX]	= 0xc0000103,
	[VCPU_MSR_BNDCFGS]	= 0xd90,
};
uint32_t vcpu_swapped_mask;
bool vcpu_has_xfd;

/* MSRs whose guest copy is a VMCS field: VM entry and exit switch them. */
static const struct { uint32_t msr, field; } vmcs_msr[] = {
	{ 0x174, VMCS_GUEST_SYSENTER_CS },
	{ 0x175, VMCS_GUEST_SYSENTER_ESP },
	{ 0x176, VMCS_GUEST_SYSENTER_EIP },
	{ 0xc0000100, VMCS_GUEST_FS_BASE },
	{ 0xc0000101, VMCS_GUEST_GS_BASE },
};

#define MSR_TSC		0x10

void vcpu_setup(void)
{
	struct cpuid_regs xs = cpuid(0xd, 0);
	uint8_t fx[512] __attribute__((aligned(16)));

	/* Without XSAVE (enabled in hvmetal's CR4) there are no vCPUs: create says so. */
	if (!(cpuid(1, 0).ecx & (1u << 26)) || !(host_state.cr4 & CR4_OSXSAVE))
		return;
	vcpu_swapped_mask = (1u << VCPU_MSR_SWAPPED) - 1;
	if (!(cpuid(0x80000001, 0).edx & (1u << 27)))
		vcpu_swapped_mask &= ~(1u << VCPU_MSR_TSC_AUX);
	if (!(cpuid(7, 0).ebx & (1u << 14)))
		vcpu_swapped_mask &= ~(1u << VCPU_MSR_BNDCFGS);
	vcpu_has_xfd = cpuid(0xd, 1).eax & (1u << 4);
	xstate_supported = ((uint64_t)xs.edx << 32) | xs.eax;
	for (uint32_t i = 0; i < hv.boot.cpu_count; i++) {
		hv.cpus[i].cd_xsave = pool_alloc_pages(&host_pool, (xs.ecx + PAGE_SIZE - 1) / PAGE_SIZE);
		if (!hv.cpus[i].cd_xsave)
			return;
	}
	xstate_size = xs.ecx;
	__asm__ volatile("fxsave64 %0" : "=m"(fx));
	memcpy(&mxcsr_mask, fx + 28, sizeof(mxcsr_mask));
	if (!mxcsr_mask)
		mxcsr_mask = 0xffbf;	/* SDM: a zero mask means the default one */
}

uint32_t vcpu_xstate_size(void)
{
	return xstate_size;
}

static uint32_t xstate_pages(void)
{
	return (xstate_size + PAGE_SIZE - 1) / PAGE_SIZE;
}

uint64_t vcpu_tsc_offset(void)
{
	return vmcs_read(VMCS_PROC_CTLS) & PROC_TSC_OFFSET ? vmcs_read(VMCS_TSC_OFFSET) : 0;
}

void vcpu_apply_tsc_offset(uint64_t offset)
{
	vmcs_write(VMCS_TSC_OFFSET, offset);
	vmcs_write(VMCS_PROC_CTLS, vmcs_read(VMCS_PROC_CTLS) | PROC_TSC_OFFSET);
}

void vcpu_vmptrld_failed(uint64_t pa)
{
	panic("VMPTRLD of %lx failed", pa);
}

struct seg_init {
	uint32_t sel_field;
	uint16_t sel;
	uint32_t limit, ar;
	uint64_t base;
};

/* The architectural state after RESET (SDM vol. 3, 9.1.1), as KVM gives a new vCPU. */
static void write_reset_state(void)
{
	static const struct seg_init segs[] = {
		{ VMCS_GUEST_CS_SEL, 0xf000, 0xffff, 0x9b, 0xffff0000 },
		{ VMCS_GUEST_SS_SEL, 0, 0xffff, 0x93, 0 },
		{ VMCS_GUEST_DS_SEL, 0, 0xffff, 0x93, 0 },
		{ VMCS_GUEST_ES_SEL, 0, 0xffff, 0x93, 0 },
		{ VMCS_GUEST_FS_SEL, 0, 0xffff, 0x93, 0 },
		{ VMCS_GUEST_GS_SEL, 0, 0xffff, 0x93, 0 },
		{ VMCS_GUEST_LDTR_SEL, 0, 0xffff, 0x82, 0 },
		{ VMCS_GUEST_TR_SEL, 0, 0xffff, 0x8b, 0 },
	};

	for (unsigned i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		uint32_t n = (segs[i].sel_field - VMCS_GUEST_ES_SEL) / 2;

		vmcs_write(segs[i].sel_field, segs[i].sel);
		vmcs_write(VMCS_GUEST_ES_LIMIT + 2 * n, segs[i].limit);
		vmcs_write(VMCS_GUEST_ES_AR + 2 * n, segs[i].ar);
		vmcs_write(VMCS_GUEST_ES_BASE + 2 * n, segs[i].base);
	}
	vmcs_write(VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmcs_write(VMCS_GUEST_IDTR_LIMIT, 0xffff);
	/* CR0.ET and the fixed bits (NE); CR4 only its fixed bits (VMXE). */
	vmcs_write(VMCS_GUEST_CR0, (CR0_ET | vmcs_policy.cr0_fixed0) & vmcs_policy.cr0_fixed1);
	vmcs_write(VMCS_GUEST_CR4, vmcs_policy.cr4_fixed0 & vmcs_policy.cr4_fixed1);
	vmcs_write(VMCS_CR4_MASK, vmcs_policy.cr4_mask_forced);
	vmcs_write(VMCS_GUEST_RIP, 0xfff0);
	vmcs_write(VMCS_GUEST_RFLAGS, 2);
	vmcs_write(VMCS_GUEST_DR7, 0x400);
	vmcs_write(VMCS_GUEST_PAT, 0x0007040600070406ull);
	vmcs_write(VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
	vmcs_write(VMCS_LINK_POINTER, ~0ull);
}

static void write_vcpu_controls(struct vcpu *v, uint32_t vpid)
{
	vmcs_write(VMCS_PIN_CTLS, vmcs_policy.pin.must1);
	vmcs_write(VMCS_PROC_CTLS, vmcs_policy.proc.must1);
	vmcs_write(VMCS_PROC2_CTLS, vmcs_policy.proc2.must1);
	vmcs_write(VMCS_ENTRY_CTLS, vmcs_policy.entry.must1);
	vmcs_write(VMCS_EXIT_CTLS, vmcs_policy.exit.must1);
	vmcs_write(VMCS_MSR_BITMAP, (uintptr_t)v->msr_bitmap);
	vmcs_write(VMCS_EPTP, v->eptp);
	if (vmx_caps.vpid)
		vmcs_write(VMCS_VPID, vpid);
	if (v->shadow_pa) {
		vmcs_write(VMCS_VMREAD_BITMAP, (uintptr_t)v->vmread_bitmap);
		vmcs_write(VMCS_VMWRITE_BITMAP, (uintptr_t)v->vmwrite_bitmap);
	}
}

/*
 * A vCPU's own page stays with its VM until the VM goes: owned_vcpu (hc_vcpu.c)
 * reads a vCPU without the VM's lock, and a stale pointer must still find a
 * vCPU, marked dead, rather than a page put to another use.
 */
static void bitmap_set(uint8_t *bm, int bit, bool exit);

static struct vcpu *vcpu_struct_get(struct vm *vm)
{
	struct vcpu *v = vm->free_vcpus;
	uint8_t *b;

	if (!v) {
		v = pool_alloc_page(&host_pool);
		if (v)
			v->owner = VCPU_DEAD;
		return v;
	}
	vm->free_vcpus = v->next_free;
	/* Everything but the owner, which says "dead" until the vCPU is whole. */
	b = (uint8_t *)v;
	memset(b, 0, offsetof(struct vcpu, owner));
	memset(b + offsetof(struct vcpu, owner) + sizeof(v->owner), 0,
	       PAGE_SIZE - offsetof(struct vcpu, owner) - sizeof(v->owner));
	return v;
}

static void vcpu_struct_put(struct vm *vm, struct vcpu *v)
{
	__atomic_store_n(&v->owner, VCPU_DEAD, __ATOMIC_RELEASE);
	v->next_free = vm->free_vcpus;
	vm->free_vcpus = v;
}

static void shadow_free(struct vcpu *v)
{
	if (v->shadow_pa) {
		vmx_clear(v->shadow_pa);	/* out of the CPU before the page goes */
		pool_free_pages(&host_pool, (void *)(uintptr_t)v->shadow_pa, 1);
	}
	if (v->vmread_bitmap)
		pool_free_pages(&host_pool, v->vmread_bitmap, 1);
	if (v->vmwrite_bitmap)
		pool_free_pages(&host_pool, v->vmwrite_bitmap, 1);
	v->shadow_pa = 0;
	v->vmread_bitmap = v->vmwrite_bitmap = NULL;
}

/*
 * Where the CPU can shadow VMCSs, every vCPU gets a shadow VMCS and its VMREAD
 * and VMWRITE bitmaps (all ones: every access exits until the VMM opens a field),
 * so the client may turn shadowing on at any time.
 */
static int shadow_alloc(struct vcpu *v)
{
	uint32_t *shadow;

	if (!(vmcs_policy.proc2.may1 & PROC2_VMCS_SHADOW))
		return 0;
	shadow = pool_alloc_page(&host_pool);
	v->vmread_bitmap = pool_alloc_page(&host_pool);
	v->vmwrite_bitmap = pool_alloc_page(&host_pool);
	if (!shadow || !v->vmread_bitmap || !v->vmwrite_bitmap) {
		v->shadow_pa = (uintptr_t)shadow;
		shadow_free(v);
		return -1;
	}
	shadow[0] = vmx_caps.revision | SHADOW_VMCS_INDICATOR;
	v->shadow_pa = (uintptr_t)shadow;
	memset(v->vmread_bitmap, 0xff, PAGE_SIZE);
	memset(v->vmwrite_bitmap, 0xff, PAGE_SIZE);
	if (vmx_clear(v->shadow_pa) != VMX_OK)
		panic("VMCLEAR of a new shadow VMCS failed");
	return 0;
}

void vcpu_link_shadow(struct vcpu *v, uint64_t proc2)
{
	vmcs_write(VMCS_LINK_POINTER, (proc2 & PROC2_VMCS_SHADOW) && v->shadow_pa ? v->shadow_pa : ~0ull);
}

/* The shadow VMCS is loaded only for the access, then the control domain's again. */
static hv_return_t shadow_access(struct vcpu *v, uint32_t field, uint64_t *val, bool write)
{
	enum vmx_result r;

	if (!v->shadow_pa)
		return HV_UNSUPPORTED;
	if (vmx_ptrld(v->shadow_pa) != VMX_OK)
		vcpu_vmptrld_failed(v->shadow_pa);
	r = write ? vmx_vmwrite(field, *val) : vmx_vmread(field, val);
	/*
	 * Back to clear (written out, not active on this CPU) before the link
	 * pointer hands it to the CPU for the guest's VMREAD/VMWRITE.
	 */
	if (vmx_clear(v->shadow_pa) != VMX_OK)
		panic("VMCLEAR of a shadow VMCS failed");
	vcpu_vmcs_put();
	/* A field this CPU lacks, or a read-only one it cannot write, fails here. */
	return r == VMX_OK ? HV_SUCCESS : HV_BAD_ARGUMENT;
}

hv_return_t vcpu_read_shadow(struct vcpu *v, uint32_t field, uint64_t *val)
{
	return shadow_access(v, field, val, false);
}

hv_return_t vcpu_write_shadow(struct vcpu *v, uint32_t field, uint64_t val)
{
	return shadow_access(v, field, &val, true);
}

/* Bits 14:0 of an encoding index the bitmaps; a clear bit lets the guest's access through. */
hv_return_t vcpu_shadow_access(struct vcpu *v, uint32_t field, uint64_t flags)
{
	if (!v->shadow_pa)
		return HV_UNSUPPORTED;
	if (field > 0x7fff || (flags & ~(uint64_t)(HV_SHADOW_VMCS_READ | HV_SHADOW_VMCS_WRITE)))
		return HV_BAD_ARGUMENT;
	bitmap_set(v->vmread_bitmap, (int)field, !(flags & HV_SHADOW_VMCS_READ));
	bitmap_set(v->vmwrite_bitmap, (int)field, !(flags & HV_SHADOW_VMCS_WRITE));
	return HV_SUCCESS;
}

hv_return_t vcpu_create(struct vm *vm, uint64_t options, uint32_t *id)
{
	struct vcpu *v;
	uint32_t *vmcs;
	uint32_t i = 0, vpid;

	if (options & ~(uint64_t)(HV_VCPU_ACCEL_RDPMC | HV_VCPU_TSC_RELATIVE))
		return HV_BAD_ARGUMENT;
	if (!xstate_size)
		return HV_UNSUPPORTED;
	while (i < VM_VCPUS_MAX && vm->vcpus[i])
		i++;
	if (i == VM_VCPUS_MAX)
		return HV_NO_RESOURCES;
	v = vcpu_struct_get(vm);
	vmcs = pool_alloc_page(&host_pool);
	if (v)
		v->msr_bitmap = pool_alloc_page(&host_pool);
	if (v && v->msr_bitmap)
		v->xsave = pool_alloc_pages(&host_pool, xstate_pages());
	if (!v || !vmcs || !v->msr_bitmap || !v->xsave || shadow_alloc(v) < 0 ||
	    (vm->apic && !vcpu_apicv_create(v))) {
		if (v)
			shadow_free(v);
		if (v && v->xsave)
			pool_free_pages(&host_pool, v->xsave, xstate_pages());
		if (v && v->msr_bitmap)
			pool_free_pages(&host_pool, v->msr_bitmap, 1);
		if (v)
			vcpu_struct_put(vm, v);
		if (vmcs)
			pool_free_pages(&host_pool, vmcs, 1);
		return HV_NO_RESOURCES;
	}
	vmcs[0] = vmx_caps.revision;
	v->vmcs_pa = (uintptr_t)vmcs;
	v->vm = vm;
	v->id = i;
	v->space = vm_space(vm, 0);
	v->eptp = (uintptr_t)v->space->pml4 | EPTP_WB_WALK4;
	v->ept_gen = UINT64_MAX;	/* invalidate at the first entry: the root may be reused */
	v->xcr0 = 1;
	v->dr6 = 0xffff0ff0;
	v->exit_info.code = HV_VM_EXITINFO_VMX;
	v->apic_deadline = HV_DEADLINE_FOREVER;
	if (vm->apic) {
		/* On the bus before the vCPU shows: what reaches it waits for its first run. */
		spin_lock(&vm->apic->lock);
		vlapic_init(&v->lapic, &vm->apic->vi, i);
		vm->apic->vi.lapic[i] = &v->lapic;
		spin_unlock(&vm->apic->lock);
	}
	memset(v->msr_bitmap, 0xff, PAGE_SIZE);	/* every MSR exits to the VMM */
	xstate_area_init(v->xsave, xstate_pages() * PAGE_SIZE);
	vpid = VPID_FIRST_GUEST + vm->slot * VM_VCPUS_MAX + i;
	if (vmx_clear(v->vmcs_pa) != VMX_OK)
		panic("VMCLEAR of a new VMCS failed");
	vcpu_vmcs_get(v);
	write_vcpu_controls(v, vpid);
	vmx_write_host_state(this_cpu(), (uintptr_t)vcpu_exit_entry);
	write_reset_state();
	if (options & HV_VCPU_TSC_RELATIVE)
		vcpu_apply_tsc_offset(-rdtsc());
	vcpu_vmcs_put();
	/* A VPID used before by a destroyed vCPU may still tag translations. */
	if (vmx_caps.vpid)
		vmx_invvpid_single(vpid);
	__atomic_store_n(&v->owner, this_cpu()->index, __ATOMIC_RELEASE);
	__atomic_store_n(&vm->vcpus[i], v, __ATOMIC_RELEASE);	/* whole before it is seen */
	vm->nvcpus++;
	*id = i;
	return HV_SUCCESS;
}

void vcpu_destroy(struct vcpu *v)
{
	struct vm *vm = v->vm;

	/* Flushes the VMCS out of the CPU before its page goes back (it is not the current one). */
	if (vmx_clear(v->vmcs_pa) != VMX_OK)
		panic("VMCLEAR of vCPU %u failed", v->id);
	if (vm->apic) {
		spin_lock(&vm->apic->lock);
		vm->apic->vi.lapic[v->id] = NULL;
		spin_unlock(&vm->apic->lock);
	}
	vm->vcpus[v->id] = NULL;
	vm->nvcpus--;
	pool_free_pages(&host_pool, (void *)(uintptr_t)v->vmcs_pa, 1);
	pool_free_pages(&host_pool, v->xsave, xstate_pages());
	pool_free_pages(&host_pool, v->msr_bitmap, 1);
	shadow_free(v);
	vcpu_apicv_destroy(v);
	vcpu_struct_put(vm, v);
}

void vcpu_structs_free(struct vm *vm)
{
	while (vm->free_vcpus) {
		struct vcpu *v = vm->free_vcpus;

		vm->free_vcpus = v->next_free;
		pool_free_pages(&host_pool, v, 1);
	}
}

hv_return_t vcpu_read_reg(struct vcpu *v, uint32_t reg, uint64_t *val)
{
	struct reg_loc loc;

	if (!vcpu_reg_loc(reg, &loc))
		return HV_BAD_ARGUMENT;
	switch (loc.kind) {
	case REG_GPR:
		*val = ((const uint64_t *)&v->gpr)[loc.index];
		break;
	case REG_VMCS:
		*val = vmcs_read(loc.field);
		break;
	case REG_CR1:
		*val = 0;
		break;
	case REG_CR2:
		*val = v->cr2;
		break;
	case REG_DR:
		*val = v->dr[loc.index];
		break;
	case REG_DR6:
		*val = v->dr6;
		break;
	case REG_XCR0:
		*val = v->xcr0;
		break;
	case REG_TPR:
		/* With hvmetal's local APIC, CR8 is its TPR[7:4], as on hardware. */
		if (v->vm->apic) {
			vapic_lock(v->vm->apic);
			*val = vlapic_get_tpr(&v->lapic);
			vapic_unlock(v->vm->apic);
		} else {
			*val = v->tpr;
		}
		break;
	}
	return HV_SUCCESS;
}

/* Values hvmetal itself loads into the CPU are checked so that loading them cannot fault. */
hv_return_t vcpu_write_reg(struct vcpu *v, uint32_t reg, uint64_t val)
{
	struct reg_loc loc;
	uint64_t out;

	if (!vcpu_reg_loc(reg, &loc))
		return HV_BAD_ARGUMENT;
	switch (loc.kind) {
	case REG_GPR:
		((uint64_t *)&v->gpr)[loc.index] = val;
		return HV_SUCCESS;
	case REG_VMCS:
		if (vmcs_policy_write(&vmcs_policy, loc.field, val, &out) < 0)
			return HV_BAD_ARGUMENT;
		vmcs_write(loc.field, out);
		return HV_SUCCESS;
	case REG_CR1:
		return HV_BAD_ARGUMENT;
	case REG_CR2:
		v->cr2 = val;
		return HV_SUCCESS;
	case REG_DR:
		if (!guest_pt_canonical(val, false))
			return HV_BAD_ARGUMENT;
		v->dr[loc.index] = val;
		return HV_SUCCESS;
	case REG_DR6:
		if (val >> 32)
			return HV_BAD_ARGUMENT;
		v->dr6 = val;
		return HV_SUCCESS;
	case REG_XCR0:
		if (!xcr0_valid(val, xstate_supported))
			return HV_BAD_ARGUMENT;
		v->xcr0 = val;
		return HV_SUCCESS;
	case REG_TPR:
		if (val > 15)
			return HV_BAD_ARGUMENT;
		if (v->vm->apic) {
			vapic_lock(v->vm->apic);
			vlapic_set_tpr(&v->lapic, (uint8_t)val);
			vapic_unlock(v->vm->apic);
		} else {
			v->tpr = val;
		}
		return HV_SUCCESS;
	}
	return HV_BAD_ARGUMENT;
}

/* Checked as XRSTOR would check it, on hvmetal's own copy of the area. */
hv_return_t vcpu_write_fpstate(struct vcpu *v, const uint8_t *area)
{
	if (!xstate_area_valid(area, xstate_supported, mxcsr_mask))
		return HV_BAD_ARGUMENT;
	memcpy(v->xsave, area, xstate_size);
	return HV_SUCCESS;
}

int vcpu_swapped_index(uint32_t msr)
{
	for (int i = 0; i < VCPU_MSR_SWAPPED; i++)
		if (vcpu_swapped_msr[i] == msr && (vcpu_swapped_mask & (1u << i)))
			return i;
	return -1;
}

static int vmcs_msr_field(uint32_t msr)
{
	for (unsigned i = 0; i < sizeof(vmcs_msr) / sizeof(vmcs_msr[0]); i++)
		if (vmcs_msr[i].msr == msr)
			return (int)vmcs_msr[i].field;
	return -1;
}

/* The bitmap's read bit for msr (the write bit is 2 KiB further); -1 outside its ranges. */
static int bitmap_bit(uint32_t msr)
{
	if (msr <= 0x1fff)
		return (int)msr;
	if (msr - 0xc0000000u <= 0x1fff)
		return (int)(0x400 * 8 + (msr - 0xc0000000u));
	return -1;
}

static void bitmap_set(uint8_t *bm, int bit, bool exit)
{
	if (exit)
		bm[bit / 8] |= 1u << (bit % 8);
	else
		bm[bit / 8] &= ~(1u << (bit % 8));
}

hv_return_t vcpu_msr_access(struct vcpu *v, uint32_t msr, uint32_t op, uint64_t arg)
{
	int sw = vcpu_swapped_index(msr), bit = bitmap_bit(msr);
	uint64_t flags;

	/* Only MSRs hvmetal can keep apart from the control domain's may go native. */
	if ((sw < 0 && vmcs_msr_field(msr) < 0 && msr != MSR_TSC && !vcpu_apic_base_msr(v, msr)) || bit < 0)
		return HV_BAD_ARGUMENT;
	switch (op) {
	case HVMETAL_MSR_NATIVE:
	case HVMETAL_MSR_MANAGED:
		if (arg > 1)
			return HV_BAD_ARGUMENT;
		flags = op == HVMETAL_MSR_NATIVE && arg ? HV_MSR_READ | HV_MSR_WRITE : HV_MSR_NONE;
		break;
	case HVMETAL_MSR_ACCESS:
		if (arg & ~(uint64_t)(HV_MSR_READ | HV_MSR_WRITE))
			return HV_BAD_ARGUMENT;
		flags = arg;
		break;
	default:
		return HV_BAD_ARGUMENT;
	}
	/* The host TSC is never the guest's to write. */
	if (msr == MSR_TSC && (flags & HV_MSR_WRITE))
		return HV_BAD_ARGUMENT;
	/* The APIC base is the hypervisor's APIC's: what the guest may not do itself exits to the VMM. */
	if (vcpu_apic_base_msr(v, msr)) {
		v->apic_base_vmm = ~(uint32_t)flags & (HV_MSR_READ | HV_MSR_WRITE);
		return HV_SUCCESS;
	}
	bitmap_set(v->msr_bitmap, bit, !(flags & HV_MSR_READ));
	bitmap_set(v->msr_bitmap + 2048, bit, !(flags & HV_MSR_WRITE));
	if (sw >= 0 && (flags & HV_MSR_WRITE))
		v->msr_native_write |= 1u << sw;
	else if (sw >= 0)
		v->msr_native_write &= ~(1u << sw);
	return HV_SUCCESS;
}

hv_return_t vcpu_read_msr(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	int sw = vcpu_swapped_index(msr), field = vmcs_msr_field(msr);
	hv_return_t r;

	if (vcpu_apic_msr(v, msr, false, val, &r))
		return r;
	if (sw >= 0)
		*val = v->msr[sw];
	else if (field >= 0)
		*val = vmcs_read((uint32_t)field);
	else if (msr == MSR_TSC)
		*val = rdtsc() + vcpu_tsc_offset();
	else
		return HV_BAD_ARGUMENT;
	return HV_SUCCESS;
}

hv_return_t vcpu_write_msr(struct vcpu *v, uint32_t msr, uint64_t val)
{
	int sw = vcpu_swapped_index(msr), field = vmcs_msr_field(msr);
	hv_return_t r;

	if (vcpu_apic_msr(v, msr, true, &val, &r))
		return r;
	if (sw >= 0) {
		/* WRMSR would #GP in hvmetal on these. */
		if ((sw == VCPU_MSR_TSC_AUX || sw == VCPU_MSR_SFMASK) && (val >> 32))
			return HV_BAD_ARGUMENT;
		if ((sw == VCPU_MSR_LSTAR || sw == VCPU_MSR_CSTAR || sw == VCPU_MSR_KGSBASE) &&
		    !guest_pt_canonical(val, false))
			return HV_BAD_ARGUMENT;
		if (sw == VCPU_MSR_BNDCFGS && ((val & 0xffc) || !guest_pt_canonical(val & ~0xfffull, false)))
			return HV_BAD_ARGUMENT;
		v->msr[sw] = val;
		v->cd_msr_gen = 0;	/* the next run works out which differ again */
	} else if (field >= 0) {
		if (msr == 0x174 ? (val >> 32) != 0 : !guest_pt_canonical(val, false))
			return HV_BAD_ARGUMENT;
		vmcs_write((uint32_t)field, val);
	} else if (msr == MSR_TSC) {
		vcpu_apply_tsc_offset(val - rdtsc());
	} else {
		return HV_BAD_ARGUMENT;
	}
	return HV_SUCCESS;
}
