#include <Hypervisor/hv_vmx.h>

#include "vmcs_policy.h"

/* Primary control bit Apple's header has no name for. */
#define POLICY_PROC_TERTIARY	(1U << 17)	/* activate tertiary controls */

#define CR0_PE			(1ULL << 0)
#define CR0_PG			(1ULL << 31)
#define CR4_KL			(1ULL << 19)

#define MISC_ACTIVITY_HLT	(1ULL << 6)	/* IA32_VMX_MISC: the HLT activity state */

#define FIELD_HIGH		1U	/* encoding bit 0: the high 32 bits of a 64-bit field */

#define ROW(enc, w, t, acc) \
	{ (enc), VMCS_WIDTH_##w, VMCS_TYPE_##t, VMCS_ACCESS_##acc }

/*
 * Every field of the SDM vol. 3 appendix B, once, sorted by encoding. Apple's
 * names where hv_arch_vmx.h has them, the SDM's name in a comment elsewhere.
 *
 * NONE for host state (hvmetal's own entry point and stacks), for every control
 * that holds a host-physical address or points at hvmetal's own structures (a
 * client could aim the CPU at any memory), and for what belongs to features
 * hvmetal keeps for itself (VPID, posted interrupts, PML, VM functions, EPTP
 * switching, tertiary and secondary-exit controls, IPI virtualisation, HLAT,
 * PASID translation).
 */
static const struct vmcs_field fields[] = {
	/* 16-bit control */
	ROW(VMCS_VPID, 16, CONTROL, NONE),
	ROW(VMCS_CTRL_POSTED_INT_N_VECTOR, 16, CONTROL, NONE),
	ROW(VMCS_CTRL_EPTP_INDEX, 16, CONTROL, NONE),
	ROW(0x0006, 16, CONTROL, NONE),			/* HLAT prefix size */
	ROW(0x0008, 16, CONTROL, NONE),			/* last PID-pointer index */
	/* 16-bit guest state */
	ROW(VMCS_GUEST_ES, 16, GUEST, FREE),
	ROW(VMCS_GUEST_CS, 16, GUEST, FREE),
	ROW(VMCS_GUEST_SS, 16, GUEST, FREE),
	ROW(VMCS_GUEST_DS, 16, GUEST, FREE),
	ROW(VMCS_GUEST_FS, 16, GUEST, FREE),
	ROW(VMCS_GUEST_GS, 16, GUEST, FREE),
	ROW(VMCS_GUEST_LDTR, 16, GUEST, FREE),
	ROW(VMCS_GUEST_TR, 16, GUEST, FREE),
	ROW(VMCS_GUEST_INT_STATUS, 16, GUEST, NONE),	/* virtual-interrupt delivery is hvmetal's */
	ROW(VMCS_GUESTPML_INDEX, 16, GUEST, NONE),
	ROW(0x0814, 16, GUEST, FREE),			/* guest UINV */
	/* 16-bit host state */
	ROW(VMCS_HOST_ES, 16, HOST, NONE),
	ROW(VMCS_HOST_CS, 16, HOST, NONE),
	ROW(VMCS_HOST_SS, 16, HOST, NONE),
	ROW(VMCS_HOST_DS, 16, HOST, NONE),
	ROW(VMCS_HOST_FS, 16, HOST, NONE),
	ROW(VMCS_HOST_GS, 16, HOST, NONE),
	ROW(VMCS_HOST_TR, 16, HOST, NONE),
	/* 64-bit control */
	ROW(VMCS_CTRL_IO_BITMAP_A, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_IO_BITMAP_B, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_MSR_BITMAPS, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_VMEXIT_MSR_STORE_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_VMEXIT_MSR_LOAD_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_VMENTRY_MSR_LOAD_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_EXECUTIVE_VMCS_PTR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_PML_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_TSC_OFFSET, 64, CONTROL, FREE),
	ROW(VMCS_CTRL_VIRTUAL_APIC, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_APIC_ACCESS, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_POSTED_INT_DESC_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_VMFUNC_CTRL, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_EPTP, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_EOI_EXIT_BITMAP_0, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_EOI_EXIT_BITMAP_1, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_EOI_EXIT_BITMAP_2, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_EOI_EXIT_BITMAP_3, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_EPTP_LIST_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_VMREAD_BITMAP_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_VMWRITE_BITMAP_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_VIRT_EXC_INFO_ADDR, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_XSS_EXITING_BITMAP, 64, CONTROL, FREE),
	ROW(VMCS_CTRL_ENCLS_EXITING_BITMAP, 64, CONTROL, FREE),
	ROW(VMCS_CTRL_SPP_TABLE, 64, CONTROL, NONE),
	ROW(VMCS_CTRL_TSC_MULTIPLIER, 64, CONTROL, FREE),
	ROW(0x2034, 64, CONTROL, NONE),			/* tertiary processor-based controls */
	ROW(VMCS_CTRL_ENCLV_EXITING_BITMAP, 64, CONTROL, FREE),
	ROW(0x2038, 64, CONTROL, NONE),			/* low PASID directory address */
	ROW(0x203a, 64, CONTROL, NONE),			/* high PASID directory address */
	ROW(0x203c, 64, CONTROL, NONE),			/* shared-EPT pointer */
	ROW(0x203e, 64, CONTROL, FREE),			/* PCONFIG-exiting bitmap */
	ROW(0x2040, 64, CONTROL, NONE),			/* HLATP */
	ROW(0x2042, 64, CONTROL, NONE),			/* PID-pointer table address */
	ROW(0x2044, 64, CONTROL, NONE),			/* secondary VM-exit controls */
	ROW(0x204a, 64, CONTROL, FREE),			/* IA32_SPEC_CTRL mask */
	ROW(0x204c, 64, CONTROL, FREE),			/* IA32_SPEC_CTRL shadow */
	ROW(0x2052, 64, CONTROL, FREE),			/* injected-event data (FRED) */
	/* 64-bit VM-exit information */
	ROW(VMCS_GUEST_PHYSICAL_ADDRESS, 64, EXIT_INFO, READ),
	ROW(0x2404, 64, EXIT_INFO, READ),		/* original-event data (FRED) */
	/* 64-bit guest state */
	ROW(VMCS_GUEST_LINK_POINTER, 64, GUEST, NONE),	/* a VMCS address: hvmetal keeps it ~0 */
	ROW(VMCS_GUEST_IA32_DEBUGCTL, 64, GUEST, FREE),
	ROW(VMCS_GUEST_IA32_PAT, 64, GUEST, FREE),
	ROW(VMCS_GUEST_IA32_EFER, 64, GUEST, FREE),
	ROW(VMCS_GUEST_IA32_PERF_GLOBAL_CTRL, 64, GUEST, FREE),
	ROW(VMCS_GUEST_PDPTE0, 64, GUEST, FREE),
	ROW(VMCS_GUEST_PDPTE1, 64, GUEST, FREE),
	ROW(VMCS_GUEST_PDPTE2, 64, GUEST, FREE),
	ROW(VMCS_GUEST_PDPTE3, 64, GUEST, FREE),
	ROW(VMCS_GUEST_IA32_BNDCFGS, 64, GUEST, FREE),
	ROW(VMCS_GUEST_IA32_RTIT_CTL, 64, GUEST, FREE),
	ROW(0x2816, 64, GUEST, FREE),			/* guest IA32_LBR_CTL */
	ROW(VMCS_GUEST_IA32_PKRS, 64, GUEST, FREE),
	ROW(0x281a, 64, GUEST, FREE),			/* guest IA32_FRED_CONFIG */
	ROW(0x281c, 64, GUEST, FREE),			/* guest IA32_FRED_RSP1 */
	ROW(0x281e, 64, GUEST, FREE),			/* guest IA32_FRED_RSP2 */
	ROW(0x2820, 64, GUEST, FREE),			/* guest IA32_FRED_RSP3 */
	ROW(0x2822, 64, GUEST, FREE),			/* guest IA32_FRED_STKLVLS */
	ROW(0x2824, 64, GUEST, FREE),			/* guest IA32_FRED_SSP1 */
	ROW(0x2826, 64, GUEST, FREE),			/* guest IA32_FRED_SSP2 */
	ROW(0x2828, 64, GUEST, FREE),			/* guest IA32_FRED_SSP3 */
	/* 64-bit host state */
	ROW(VMCS_HOST_IA32_PAT, 64, HOST, NONE),
	ROW(VMCS_HOST_IA32_EFER, 64, HOST, NONE),
	ROW(VMCS_HOST_IA32_PERF_GLOBAL_CTRL, 64, HOST, NONE),
	ROW(VMCS_HOST_IA32_PKRS, 64, HOST, NONE),
	ROW(0x2c08, 64, HOST, NONE),			/* host IA32_FRED_CONFIG */
	ROW(0x2c0a, 64, HOST, NONE),			/* host IA32_FRED_RSP1 */
	ROW(0x2c0c, 64, HOST, NONE),			/* host IA32_FRED_RSP2 */
	ROW(0x2c0e, 64, HOST, NONE),			/* host IA32_FRED_RSP3 */
	ROW(0x2c10, 64, HOST, NONE),			/* host IA32_FRED_STKLVLS */
	ROW(0x2c12, 64, HOST, NONE),			/* host IA32_FRED_SSP1 */
	ROW(0x2c14, 64, HOST, NONE),			/* host IA32_FRED_SSP2 */
	ROW(0x2c16, 64, HOST, NONE),			/* host IA32_FRED_SSP3 */
	/* 32-bit control */
	ROW(VMCS_CTRL_PIN_BASED, 32, CONTROL, PIN),
	ROW(VMCS_CTRL_CPU_BASED, 32, CONTROL, PROC),
	ROW(VMCS_CTRL_EXC_BITMAP, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_PF_ERROR_MASK, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_PF_ERROR_MATCH, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_CR3_COUNT, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_VMEXIT_CONTROLS, 32, CONTROL, EXIT),
	/* The MSR areas would be host-physical addresses: no client MSR lists. */
	ROW(VMCS_CTRL_VMEXIT_MSR_STORE_COUNT, 32, CONTROL, ZERO),
	ROW(VMCS_CTRL_VMEXIT_MSR_LOAD_COUNT, 32, CONTROL, ZERO),
	ROW(VMCS_CTRL_VMENTRY_CONTROLS, 32, CONTROL, ENTRY),
	ROW(VMCS_CTRL_VMENTRY_MSR_LOAD_COUNT, 32, CONTROL, ZERO),
	ROW(VMCS_CTRL_VMENTRY_IRQ_INFO, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_VMENTRY_EXC_ERROR, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_VMENTRY_INSTR_LEN, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_TPR_THRESHOLD, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_CPU_BASED2, 32, CONTROL, PROC2),
	ROW(VMCS_CTRL_PLE_GAP, 32, CONTROL, FREE),
	ROW(VMCS_CTRL_PLE_WINDOW, 32, CONTROL, FREE),
	ROW(0x4024, 32, CONTROL, FREE),			/* instruction-timeout control */
	/* 32-bit VM-exit information */
	ROW(VMCS_RO_INSTR_ERROR, 32, EXIT_INFO, READ),
	ROW(VMCS_RO_EXIT_REASON, 32, EXIT_INFO, READ),
	ROW(VMCS_RO_VMEXIT_IRQ_INFO, 32, EXIT_INFO, READ),
	ROW(VMCS_RO_VMEXIT_IRQ_ERROR, 32, EXIT_INFO, READ),
	ROW(VMCS_RO_IDT_VECTOR_INFO, 32, EXIT_INFO, READ),
	ROW(VMCS_RO_IDT_VECTOR_ERROR, 32, EXIT_INFO, READ),
	ROW(VMCS_RO_VMEXIT_INSTR_LEN, 32, EXIT_INFO, READ),
	ROW(VMCS_RO_VMX_INSTR_INFO, 32, EXIT_INFO, READ),
	/* 32-bit guest state */
	ROW(VMCS_GUEST_ES_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_CS_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_SS_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_DS_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_FS_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_GS_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_LDTR_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_TR_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_GDTR_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_IDTR_LIMIT, 32, GUEST, FREE),
	ROW(VMCS_GUEST_ES_AR, 32, GUEST, FREE),
	ROW(VMCS_GUEST_CS_AR, 32, GUEST, FREE),
	ROW(VMCS_GUEST_SS_AR, 32, GUEST, FREE),
	ROW(VMCS_GUEST_DS_AR, 32, GUEST, FREE),
	ROW(VMCS_GUEST_FS_AR, 32, GUEST, FREE),
	ROW(VMCS_GUEST_GS_AR, 32, GUEST, FREE),
	ROW(VMCS_GUEST_LDTR_AR, 32, GUEST, FREE),
	ROW(VMCS_GUEST_TR_AR, 32, GUEST, FREE),
	ROW(VMCS_GUEST_INTERRUPTIBILITY, 32, GUEST, FREE),
	ROW(VMCS_GUEST_ACTIVITY_STATE, 32, GUEST, ACTIVITY),
	ROW(VMCS_GUEST_SMBASE, 32, GUEST, FREE),
	ROW(VMCS_GUEST_IA32_SYSENTER_CS, 32, GUEST, FREE),
	/* hvmetal arms the preemption timer itself for hv_vcpu_run_until. */
	ROW(VMCS_GUEST_VMX_TIMER_VALUE, 32, GUEST, READ),
	/* 32-bit host state */
	ROW(VMCS_HOST_IA32_SYSENTER_CS, 32, HOST, NONE),
	/* natural-width control */
	ROW(VMCS_CTRL_CR0_MASK, NATURAL, CONTROL, FREE),
	ROW(VMCS_CTRL_CR4_MASK, NATURAL, CONTROL, CR4_MASK),
	ROW(VMCS_CTRL_CR0_SHADOW, NATURAL, CONTROL, FREE),
	ROW(VMCS_CTRL_CR4_SHADOW, NATURAL, CONTROL, FREE),
	ROW(VMCS_CTRL_CR3_VALUE0, NATURAL, CONTROL, FREE),
	ROW(VMCS_CTRL_CR3_VALUE1, NATURAL, CONTROL, FREE),
	ROW(VMCS_CTRL_CR3_VALUE2, NATURAL, CONTROL, FREE),
	ROW(VMCS_CTRL_CR3_VALUE3, NATURAL, CONTROL, FREE),
	/* natural-width VM-exit information */
	ROW(VMCS_RO_EXIT_QUALIFIC, NATURAL, EXIT_INFO, READ),
	ROW(VMCS_RO_IO_RCX, NATURAL, EXIT_INFO, READ),
	ROW(VMCS_RO_IO_RSI, NATURAL, EXIT_INFO, READ),
	ROW(VMCS_RO_IO_RDI, NATURAL, EXIT_INFO, READ),
	ROW(VMCS_RO_IO_RIP, NATURAL, EXIT_INFO, READ),
	ROW(VMCS_RO_GUEST_LIN_ADDR, NATURAL, EXIT_INFO, READ),
	/* natural-width guest state */
	ROW(VMCS_GUEST_CR0, NATURAL, GUEST, CR0),
	ROW(VMCS_GUEST_CR3, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_CR4, NATURAL, GUEST, CR4),
	ROW(VMCS_GUEST_ES_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_CS_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_SS_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_DS_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_FS_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_GS_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_LDTR_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_TR_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_GDTR_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_IDTR_BASE, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_DR7, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_RSP, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_RIP, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_RFLAGS, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_DEBUG_EXC, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_SYSENTER_ESP, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_SYSENTER_EIP, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_IA32_S_CET, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_SSP, NATURAL, GUEST, FREE),
	ROW(VMCS_GUEST_IA32_INTR_SSP_TABLE_ADDR, NATURAL, GUEST, FREE),
	/* natural-width host state */
	ROW(VMCS_HOST_CR0, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_CR3, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_CR4, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_FS_BASE, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_GS_BASE, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_TR_BASE, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_GDTR_BASE, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_IDTR_BASE, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_IA32_SYSENTER_ESP, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_IA32_SYSENTER_EIP, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_RSP, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_RIP, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_IA32_S_CET, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_SSP, NATURAL, HOST, NONE),
	ROW(VMCS_HOST_IA32_INTR_SSP_TABLE_ADDR, NATURAL, HOST, NONE),
};

#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

const struct vmcs_field *vmcs_policy_fields(size_t *count)
{
	*count = NFIELDS;
	return fields;
}

/*
 * The table row of an encoding, NULL for none. A _HIGH encoding (bit 0) names
 * the upper half of a 64-bit field only; *high tells the caller it is one.
 */
static const struct vmcs_field *lookup(uint32_t field, bool *high)
{
	uint32_t full = field & ~FIELD_HIGH;
	size_t lo = 0, hi = NFIELDS;

	*high = field & FIELD_HIGH;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (fields[mid].encoding == full) {
			if (*high && fields[mid].width != VMCS_WIDTH_64)
				return NULL;
			return &fields[mid];
		}
		if (fields[mid].encoding < full)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Bits a value may have: the field's width, 32 for the high half of a 64-bit one. */
static uint64_t width_mask(const struct vmcs_field *f, bool high)
{
	if (high || f->width == VMCS_WIDTH_32)
		return 0xffffffffull;
	if (f->width == VMCS_WIDTH_16)
		return 0xffffull;
	return ~0ull;
}

/*
 * A control word clients may change: the CPU's must-be-1 bits plus hvmetal's forced
 * ones, at most what the CPU allows and hvmetal offers. A forced bit the CPU lacks
 * simply drops out (vmx_caps_check refused CPUs without the essential ones), and so
 * does a must-be-1 bit a contradictory CPU does not allow: what is reported and
 * written stays within may1, and VM entry judges such a CPU.
 */
static struct vmx_ctl offer(struct vmx_ctl cpu, uint32_t forced, uint32_t allowed)
{
	uint32_t must1 = (cpu.must1 | forced) & cpu.may1;

	return (struct vmx_ctl){ .must1 = must1, .may1 = cpu.may1 & (must1 | allowed) };
}

void vmcs_policy_init(struct vmcs_policy *p, const struct vmx_caps *caps, uint64_t basic,
		      uint64_t misc, uint64_t vmcs_enum, uint64_t tsc_hz)
{
	uint32_t proc2_forced = CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED;

	/*
	 * External interrupts and NMIs belong to the control domain: they always exit.
	 * Virtual NMIs make the guest's NMI blocking its own, so no guest can hold off
	 * a physical NMI (hvmetal's kicks among them). The preemption timer is
	 * hvmetal's (hv_vcpu_run_until); posted interrupts would need a descriptor and
	 * a notification vector in hvmetal.
	 */
	p->pin = offer(caps->pin, PIN_BASED_INTR | PIN_BASED_NMI | PIN_BASED_VIRTUAL_NMI,
		       ~(PIN_BASED_PREEMPTION_TIMER | PIN_BASED_POSTED_INTR));

	/*
	 * Guests never reach real I/O ports, the real CR8 (the control domain's task
	 * priority) or its performance counters (RDPMC), and MSR accesses go through
	 * hvmetal's own bitmap. The TPR shadow
	 * would need a virtual-APIC page (not yet), I/O bitmaps are host-physical
	 * pages, and the tertiary controls field is hvmetal's.
	 */
	p->proc = offer(caps->proc,
			CPU_BASED_UNCOND_IO | CPU_BASED_MSR_BITMAPS | CPU_BASED_SECONDARY_CTLS |
			CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE | CPU_BASED_RDPMC,
			~(CPU_BASED_TPR_SHADOW | CPU_BASED_IO_BITMAPS | POLICY_PROC_TERTIARY));

	/*
	 * EPT keeps hvmetal's memory out of reach; unrestricted guest lets guests start
	 * in real mode; VPID (when INVVPID can flush it) spares TLB flushes. Only the
	 * exiting and instruction-enabling controls below are offered, VMCS
	 * shadowing (hvmetal gives every vCPU a shadow VMCS and its bitmaps, and points
	 * the link pointer at them when the client turns it on) and APIC-access
	 * virtualization (the page is hvmetal's, hv_vmx_vcpu_set_apic_address places
	 * it). Every other bit needs a structure hvmetal owns (virtual-APIC page, PML, #VE,
	 * EPTP lists, sub-page tables) or state it does not switch (IA32_XSS, PT).
	 */
	if (caps->vpid)
		proc2_forced |= CPU_BASED2_VPID;
	p->proc2 = offer(caps->proc2, proc2_forced,
			 CPU_BASED2_DESC_TABLE | CPU_BASED2_RDTSCP | CPU_BASED2_WBINVD |
			 CPU_BASED2_PAUSE_LOOP | CPU_BASED2_RDRAND | CPU_BASED2_INVPCID |
			 CPU_BASED2_ENCLS_EXIT_MAP | CPU_BASED2_RDSEED | CPU_BASED2_TSC_SCALING |
			 CPU_BASED2_USER_WAIT_PAUSE | CPU_BASED2_ENCLV_EXIT_MAP |
			 CPU_BASED2_VMCS_SHADOW | CPU_BASED2_VIRTUAL_APIC);

	/*
	 * Entry always loads the guest's DR7/DEBUGCTL, PAT and EFER, so a guest never
	 * sees hvmetal's or the control domain's. The client picks only IA-32e mode.
	 */
	p->entry = offer(caps->entry,
			 VMENTRY_LOAD_DBG_CONTROLS | VMENTRY_LOAD_IA32_PAT | VMENTRY_LOAD_EFER,
			 VMENTRY_GUEST_IA32E);

	/*
	 * Exit controls are all hvmetal's: it returns to a 64-bit host with its own
	 * PAT and EFER. No acknowledge-interrupt-on-exit: an external interrupt stays
	 * pending for the control domain.
	 */
	p->exit = offer(caps->exit,
			VMEXIT_SAVE_DBG_CONTROLS | VMEXIT_HOST_IA32E | VMEXIT_SAVE_IA32_PAT |
			VMEXIT_LOAD_IA32_PAT | VMEXIT_SAVE_EFER | VMEXIT_LOAD_EFER, 0);

	/* Unrestricted guest (always on) frees CR0.PE and CR0.PG. */
	p->cr0_fixed0 = caps->cr0_fixed0 & ~(CR0_PE | CR0_PG);
	p->cr0_fixed1 = caps->cr0_fixed1;
	p->cr4_fixed0 = caps->cr4_fixed0;
	p->cr4_fixed1 = caps->cr4_fixed1;
	/*
	 * Key Locker's wrapping key is per CPU, shared with the control domain, and
	 * hvmetal does not intercept LOADIWKEY: no guest may turn CR4.KL on, neither
	 * through the VMCS nor by its own MOV to CR4 (that exits to the VMM).
	 */
	p->cr4_mask_forced = p->cr4_fixed1 & CR4_KL;
	p->cr4_fixed1 &= ~CR4_KL;

	p->basic = basic;
	p->misc = misc;
	p->vmcs_enum = vmcs_enum;
	p->ept_vpid = caps->ept_vpid;
	p->timer_hz = tsc_hz >> (misc & 31);
}

static uint64_t ctl_cap(struct vmx_ctl c)
{
	return c.must1 | (uint64_t)c.may1 << 32;
}

int vmcs_policy_capability(const struct vmcs_policy *p, uint32_t cap, uint64_t *value)
{
	/* Control words: what hvmetal accepts, the same for the TRUE_* twins. */
	switch (cap) {
	case HV_VMX_CAP_PINBASED:
	case HV_VMX_CAP_TRUE_PINBASED:
		*value = ctl_cap(p->pin);
		return 0;
	case HV_VMX_CAP_PROCBASED:
	case HV_VMX_CAP_TRUE_PROCBASED:
		*value = ctl_cap(p->proc);
		return 0;
	case HV_VMX_CAP_PROCBASED2:
		*value = ctl_cap(p->proc2);
		return 0;
	case HV_VMX_CAP_ENTRY:
	case HV_VMX_CAP_TRUE_ENTRY:
		*value = ctl_cap(p->entry);
		return 0;
	case HV_VMX_CAP_EXIT:
	case HV_VMX_CAP_TRUE_EXIT:
		*value = ctl_cap(p->exit);
		return 0;
	case HV_VMX_CAP_BASIC:
		*value = p->basic;
		return 0;
	case HV_VMX_CAP_MISC:
		*value = p->misc;
		return 0;
	case HV_VMX_CAP_CR0_FIXED0:
		*value = p->cr0_fixed0;
		return 0;
	case HV_VMX_CAP_CR0_FIXED1:
		*value = p->cr0_fixed1;
		return 0;
	case HV_VMX_CAP_CR4_FIXED0:
		*value = p->cr4_fixed0;
		return 0;
	case HV_VMX_CAP_CR4_FIXED1:
		*value = p->cr4_fixed1;
		return 0;
	case HV_VMX_CAP_VMCS_ENUM:
		*value = p->vmcs_enum;
		return 0;
	case HV_VMX_CAP_EPT_VPID_CAP:
		*value = p->ept_vpid;
		return 0;
	case HV_VMX_CAP_PREEMPTION_TIMER:
		*value = p->timer_hz;
		return 0;
	}
	return -1;
}

bool vmcs_policy_readable(uint32_t field)
{
	bool high;
	const struct vmcs_field *f = lookup(field, &high);

	return f && f->access != VMCS_ACCESS_NONE;
}

/* Write caps of a known field: -1 when a client may not write it at all. */
static int field_caps(const struct vmcs_policy *p, const struct vmcs_field *f, bool high,
		      uint64_t *allowed_0, uint64_t *allowed_1)
{
	struct vmx_ctl c;

	switch (f->access) {
	case VMCS_ACCESS_ZERO:
		*allowed_0 = 0;
		*allowed_1 = 0;
		return 0;
	case VMCS_ACCESS_FREE:
		*allowed_0 = 0;
		*allowed_1 = width_mask(f, high);
		return 0;
	case VMCS_ACCESS_PIN:
		c = p->pin;
		break;
	case VMCS_ACCESS_PROC:
		c = p->proc;
		break;
	case VMCS_ACCESS_PROC2:
		c = p->proc2;
		break;
	case VMCS_ACCESS_ENTRY:
		c = p->entry;
		break;
	case VMCS_ACCESS_EXIT:
		c = p->exit;
		break;
	case VMCS_ACCESS_CR0:
		*allowed_0 = p->cr0_fixed0;
		*allowed_1 = p->cr0_fixed1;
		return 0;
	case VMCS_ACCESS_CR4:
		*allowed_0 = p->cr4_fixed0;
		*allowed_1 = p->cr4_fixed1;
		return 0;
	case VMCS_ACCESS_CR4_MASK:
		*allowed_0 = p->cr4_mask_forced;
		*allowed_1 = ~0ull;
		return 0;
	case VMCS_ACCESS_ACTIVITY:
		/*
		 * Shutdown and wait-for-SIPI block NMIs, so no kick could bring the
		 * CPU back (and shutdown may reset the platform): never offered.
		 */
		*allowed_0 = 0;
		*allowed_1 = (p->misc & MISC_ACTIVITY_HLT) ? 1 : 0;
		return 0;
	default:	/* NONE, READ */
		return -1;
	}
	*allowed_0 = c.must1;
	*allowed_1 = c.may1;
	return 0;
}

int vmcs_policy_write_caps(const struct vmcs_policy *p, uint32_t field, uint64_t *allowed_0,
			   uint64_t *allowed_1)
{
	bool high;
	const struct vmcs_field *f = lookup(field, &high);

	return f ? field_caps(p, f, high, allowed_0, allowed_1) : -1;
}

int vmcs_policy_write(const struct vmcs_policy *p, uint32_t field, uint64_t value,
		      uint64_t *out)
{
	bool high;
	const struct vmcs_field *f = lookup(field, &high);
	uint64_t a0, a1;

	if (!f || field_caps(p, f, high, &a0, &a1) < 0 || (value & ~a1))
		return -1;
	/*
	 * Forced control bits are added silently, so a client writing 0 still gets
	 * EPT and unrestricted guest. A CR0/CR4 lacking a fixed bit is an error now
	 * rather than a VM-entry failure later.
	 */
	if ((f->access == VMCS_ACCESS_CR0 || f->access == VMCS_ACCESS_CR4) && (value & a0) != a0)
		return -1;
	*out = value | a0;
	return 0;
}
