/*
 * The CPU's exits a test kernel causes: CPUID (the host's, with this vCPU's
 * APIC ID and the features the command line chose), MSRs no one else
 * handles (#GP, as the kernels' rdmsr_safe expects), CR0/CR4/CR8 writes
 * through the masks, and VMCALL (KVM's numbers the suite uses).
 */
#include "mbvmm.h"

#define CR0_PE		(1ull << 0)
#define CR0_PG		(1ull << 31)
#define EFER_LME	(1ull << 8)
#define EFER_LMA	(1ull << 10)
#define EFER_WRITABLE	((1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11))	/* SCE, LME, LMA, NXE */
#define MSR_EFER	0xc0000080u
#define MSR_PAT		0x277u
#define MSR_TSC		0x10u
#define MSR_APIC_BASE	0x1bu
#define MSR_MCG_CAP	0x179u		/* no machine-check banks */
#define MSR_MCG_STATUS	0x17au
#define MSR_MISC_ENABLE	0x1a0u
#define MISC_ENABLE_RO	0x1880ull	/* BTS and PEBS unavailable, perfmon: read-only */
#define MISC_ENABLE_OK	0x400c51889ull	/* the bits the SDM defines */
#define CPUID1_ECX_VMX		(1u << 5)
#define CPUID1_EDX_APIC		(1u << 9)
#define CPUID1_ECX_PDCM		(1u << 15)	/* IA32_PERF_CAPABILITIES: no PMU here */
#define CPUID7_EBX_TSC_ADJUST	(1u << 1)
/* SPEC_CTRL, STIBP, L1D_FLUSH, ARCH_CAPABILITIES, SSBD: MSRs the hypervisor gives no guest */
#define CPUID7_EDX_MITIGATIONS	((1u << 26) | (1u << 27) | (1u << 28) | (1u << 29) | (1u << 31))
#define CPUID1_ECX_X2APIC	(1u << 21)
#define CPUID1_ECX_DEADLINE	(1u << 24)
#define CPUID1_ECX_HV		(1u << 31)
#define INTR_VALID	(1u << 31)
#define INTR_HW_EXC	(3u << 8)
#define INTR_ERRCODE	(1u << 11)
#define VEC_GP		13
#define KVM_HC_SEND_IPI	10
#define KVM_ENOSYS	1000
#define KVM_EINVAL	22
#define ICR_DM_FIXED	0
#define ICR_DM_NMI	4
#define MSI_ADDR	0xfee00000ull

static void host_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* Topology leaf 0xB: one thread per core, ncpus cores; EDX is the x2APIC ID. */
static void topology(const struct mb_machine *m, const struct mb_vcpu *c, uint32_t sub, uint32_t r[4])
{
	unsigned shift = 0;

	while ((1u << shift) < m->ncpus)
		shift++;
	r[0] = sub == 0 ? 0 : sub == 1 ? shift : 0;
	r[1] = sub == 0 ? 1 : sub == 1 ? m->ncpus : 0;
	r[2] = sub == 0 ? 1u << 8 | sub : sub == 1 ? 2u << 8 | sub : sub;
	r[3] = c->index;
}

enum mb_next mb_exit_cpuid(struct mb_machine *m, struct mb_vcpu *c)
{
	uint32_t leaf = (uint32_t)mb_reg(c, HV_X86_RAX), sub = (uint32_t)mb_reg(c, HV_X86_RCX), r[4] = { 0 };

	/* No hypervisor leaves: the kernels would look for KVM's there. */
	if (leaf < 0x40000000u || leaf >= 0x50000000u)
		host_cpuid(leaf, sub, r);
	switch (leaf) {
	case 1:
		r[1] = (r[1] & 0x0000ffffu) | (uint32_t)m->ncpus << 16 | (uint32_t)c->index << 24;
		if (!(mb_apic_base(c) & APIC_BASE_EN))		/* a disabled APIC is not there */
			r[3] &= ~CPUID1_EDX_APIC;
		r[2] &= ~(CPUID1_ECX_VMX | CPUID1_ECX_X2APIC | CPUID1_ECX_PDCM);
		r[2] |= CPUID1_ECX_DEADLINE | CPUID1_ECX_HV | (m->x2apic ? CPUID1_ECX_X2APIC : 0);
		break;
	case 7:
		if (sub == 0) {
			r[1] &= ~CPUID7_EBX_TSC_ADJUST;
			r[3] &= ~CPUID7_EDX_MITIGATIONS;
		}
		break;
	case 0xa:			/* architectural performance monitoring: none */
		r[0] = r[1] = r[2] = r[3] = 0;
		break;
	case 0xb:
		topology(m, c, sub, r);
		break;
	}
	mb_set_reg(c, HV_X86_RAX, r[0]);
	mb_set_reg(c, HV_X86_RBX, r[1]);
	mb_set_reg(c, HV_X86_RCX, r[2]);
	mb_set_reg(c, HV_X86_RDX, r[3]);
	mb_skip(c);
	return MB_RESUME;
}

void mb_inject_gp(struct mb_vcpu *c)
{
	mb_set_vmcs(c, VMCS_CTRL_VMENTRY_EXC_ERROR, 0);
	mb_set_vmcs(c, VMCS_CTRL_VMENTRY_IRQ_INFO, INTR_VALID | INTR_HW_EXC | INTR_ERRCODE | VEC_GP);
}

/* PAT: eight memory types, each UC, WC, WT, WP, WB or UC- (SDM 11.12.2). */
static bool pat_ok(uint64_t v)
{
	for (unsigned i = 0; i < 8; i++) {
		unsigned t = (v >> (8 * i)) & 0xff;

		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

/* A RDMSR's value into EDX:EAX (a WRMSR has none), and the instruction retired. */
static enum mb_next msr_done(struct mb_vcpu *c, bool write, uint64_t val)
{
	if (!write) {
		mb_set_reg(c, HV_X86_RAX, (uint32_t)val);
		mb_set_reg(c, HV_X86_RDX, val >> 32);
	}
	mb_skip(c);
	return MB_RESUME;
}

static enum mb_next msr_gp(struct mb_vcpu *c)
{
	mb_inject_gp(c);
	return MB_RESUME;
}

/*
 * EFER and PAT live in the VMCS; MISC_ENABLE, MCG_CAP/STATUS and TSC writes
 * are emulated; the others a kernel uses are native (mbvmm.c) or the
 * hypervisor's (the APIC's): any other MSR is #GP. An EFER write keeps LMA
 * (the CPU's), and may not flip LME while paging is on.
 */
enum mb_next mb_exit_msr(struct mb_machine *m, struct mb_vcpu *c, bool write)
{
	uint32_t msr = (uint32_t)mb_reg(c, HV_X86_RCX);
	uint64_t val = (mb_reg(c, HV_X86_RDX) << 32) | (uint32_t)mb_reg(c, HV_X86_RAX), old, base;

	switch (msr) {
	case MSR_APIC_BASE:
		/*
		 * Writes come here (vcpu_controls; reads are the hypervisor's): EXTD is
		 * #GP where CPUID has no x2APIC, the rest the hypervisor's APIC checks.
		 * Leaving xAPIC mode empties the load-store cache (mb_mmio.c); a moved
		 * page is placed.
		 */
		old = mb_apic_base(c);
		if (!write || ((val & APIC_BASE_EXTD) && !m->x2apic) ||
		    hv_vcpu_write_msr(c->id, MSR_APIC_BASE, val) != HV_SUCCESS)
			return msr_gp(c);
		if ((old ^ val) & (APIC_BASE_EN | APIC_BASE_EXTD))
			hv_vcpu_apic_lsc_invalidate(c->id);
		base = val & ~0xfffull;
		if (((old ^ val) & ~0xfffull) && hv_vmx_vcpu_set_apic_address(c->id, base) != HV_SUCCESS)
			plat_printf("mbvmm: vCPU %u: the xAPIC page cannot move to 0x%llx (RAM there)\n", c->index,
				    (unsigned long long)base);
		return msr_done(c, true, 0);
	case MSR_TSC:			/* reads are native (mbvmm.c); a write moves the guest's TSC */
		if (write)
			mb_set_vmcs(c, VMCS_CTRL_TSC_OFFSET, val - hv_tsc_clock());
		return msr_done(c, write, write ? 0 : hv_tsc_clock() + mb_vmcs(c, VMCS_CTRL_TSC_OFFSET));
	case MSR_MCG_CAP:
	case MSR_MCG_STATUS:
		if (write && (msr == MSR_MCG_CAP || val))
			return msr_gp(c);
		return msr_done(c, write, 0);
	case MSR_MISC_ENABLE:
		if (write && (val & ~MISC_ENABLE_OK))
			return msr_gp(c);
		if (write)
			c->misc_enable = (val & ~MISC_ENABLE_RO) | (c->misc_enable & MISC_ENABLE_RO);
		return msr_done(c, write, c->misc_enable);
	case MSR_EFER:
		old = mb_vmcs(c, VMCS_GUEST_IA32_EFER);
		if (write && ((val & ~EFER_WRITABLE) ||
			      (((val ^ old) & EFER_LME) && (mb_vmcs(c, VMCS_CTRL_CR0_SHADOW) & CR0_PG))))
			return msr_gp(c);
		if (write)
			mb_set_vmcs(c, VMCS_GUEST_IA32_EFER, (val & ~EFER_LMA) | (old & EFER_LMA));
		return msr_done(c, write, old);
	case MSR_PAT:
		if (write && !pat_ok(val))
			return msr_gp(c);
		if (write)
			mb_set_vmcs(c, VMCS_GUEST_IA32_PAT, val);
		return msr_done(c, write, write ? 0 : mb_vmcs(c, VMCS_GUEST_IA32_PAT));
	default:
		return msr_gp(c);
	}
}

const hv_x86_reg_t mb_gpr[16] = {
	HV_X86_RAX, HV_X86_RCX, HV_X86_RDX, HV_X86_RBX, HV_X86_RSP, HV_X86_RBP, HV_X86_RSI, HV_X86_RDI,
	HV_X86_R8, HV_X86_R9, HV_X86_R10, HV_X86_R11, HV_X86_R12, HV_X86_R13, HV_X86_R14, HV_X86_R15,
};

/*
 * CR0 through its mask (NE: the guest may clear it, VMX may not): the guest's
 * value in the shadow, NE forced in the real one, and what the CPU does on a
 * paging change: EFER.LMA and the IA-32e entry control follow PG with LME.
 */
static void write_cr0(struct mb_vcpu *c, uint64_t val)
{
	uint64_t old = mb_vmcs(c, VMCS_CTRL_CR0_SHADOW), efer = mb_vmcs(c, VMCS_GUEST_IA32_EFER);
	uint64_t entry = mb_vmcs(c, VMCS_CTRL_VMENTRY_CONTROLS);

	if (((val ^ old) & CR0_PG) && (efer & EFER_LME)) {
		efer = val & CR0_PG ? efer | EFER_LMA : efer & ~EFER_LMA;
		entry = val & CR0_PG ? entry | VMENTRY_GUEST_IA32E : entry & ~(uint64_t)VMENTRY_GUEST_IA32E;
		mb_set_vmcs(c, VMCS_GUEST_IA32_EFER, efer);
		mb_set_vmcs(c, VMCS_CTRL_VMENTRY_CONTROLS, entry);
	}
	mb_set_vmcs(c, VMCS_CTRL_CR0_SHADOW, val);
	mb_set_vmcs(c, VMCS_GUEST_CR0, val | CR0_NE);
}

enum mb_next mb_exit_cr(struct mb_machine *m, struct mb_vcpu *c)
{
	uint64_t q = mb_vmcs(c, VMCS_RO_EXIT_QUALIFIC), val;
	unsigned cr = q & 15, type = (q >> 4) & 3;
	hv_x86_reg_t r = mb_gpr[(q >> 8) & 15];

	(void)m;
	if (type == 0 && cr == 0) {
		write_cr0(c, mb_reg(c, r));
	} else if (type == 0 && cr == 4) {
		val = mb_reg(c, r);
		if (val & CR4_VMXE) {		/* no VMX for the guest */
			mb_inject_gp(c);
			return MB_RESUME;
		}
		mb_set_vmcs(c, VMCS_CTRL_CR4_SHADOW, val);
		mb_set_vmcs(c, VMCS_GUEST_CR4, val | CR4_VMXE);
	} else if (type == 0 && cr == 8) {
		mb_set_reg(c, HV_X86_TPR, mb_reg(c, r) & 15);
	} else if (type == 1 && cr == 8) {
		mb_set_reg(c, r, mb_reg(c, HV_X86_TPR));
	} else if (type == 3) {			/* LMSW: PE, MP, EM, TS; PE cannot be cleared */
		val = mb_vmcs(c, VMCS_CTRL_CR0_SHADOW);
		write_cr0(c, (val & ~0xeull) | ((q >> 16) & 0xf) | (val & CR0_PE));
	} else {
		plat_printf("mbvmm: error: vCPU %u: a CR access the VMM does not emulate (qualification 0x%llx)\n",
			    c->index, (unsigned long long)q);
		return MB_ABORT;
	}
	mb_skip(c);
	return MB_RESUME;
}

/*
 * KVM's send-IPI hypercall: RBX:RCX a 128-bit set of APIC IDs from RDX on,
 * RSI the ICR's low word (fixed or NMI); the answer is how many got it, as
 * KVM's. Fixed vectors go through the hypervisor's APIC, an NMI as an MSI.
 */
static uint64_t send_ipi(struct mb_machine *m, struct mb_vcpu *c)
{
	uint64_t set[2] = { mb_reg(c, HV_X86_RBX), mb_reg(c, HV_X86_RCX) }, min = mb_reg(c, HV_X86_RDX);
	uint32_t icr = (uint32_t)mb_reg(c, HV_X86_RSI), mode = (icr >> 8) & 7;
	uint8_t vector = (uint8_t)icr;
	uint64_t sent = 0;

	if (mode != ICR_DM_FIXED && mode != ICR_DM_NMI)
		return (uint64_t)-KVM_EINVAL;
	for (unsigned i = 0; i < 128; i++) {
		uint64_t id = min + i;

		if (!(set[i / 64] >> (i % 64) & 1) || id < min || id >= m->ncpus)
			continue;
		if (mode == ICR_DM_NMI ? hv_vm_lapic_msi(MSI_ADDR | id << 12, ICR_DM_NMI << 8) == HV_SUCCESS :
					 hv_vm_lapic_set_intr((hv_vcpuid_t)id, vector, HV_APIC_EDGE_TRIGGER) == HV_SUCCESS)
			sent++;
	}
	return sent;
}

/* KVM's hypercalls: send-IPI (apic.flat's); anything else is KVM's -ENOSYS. */
enum mb_next mb_exit_vmcall(struct mb_machine *m, struct mb_vcpu *c)
{
	mb_set_reg(c, HV_X86_RAX, mb_reg(c, HV_X86_RAX) == KVM_HC_SEND_IPI ? send_ipi(m, c) : (uint64_t)-KVM_ENOSYS);
	mb_skip(c);
	return MB_RESUME;
}
