#include "cd_apic.h"
#include "cd_launch.h"
#include "ept/ept_identity.h"
#include "hypercall/hypercall.h"
#include "hypercall/uaccess.h"
#include "insn_decode.h"
#include "apic/ipi_dest.h"
#include "kernel/cpu.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "kernel/kick.h"
#include "kernel/log.h"
#include "kernel/msr_safe.h"
#include "kernel/spinlock.h"
#include "vmx/vmcs.h"
#include "vmx/vmx_bits.h"

#define APIC_ICR_LO		0x300
#define APIC_ICR_HI		0x310
#define ICR_DELIVERY(lo)	(((lo) >> 8) & 7)
#define ICR_DELIVERY_NMI	4
#define ICR_DELIVERY_INIT	5
#define ICR_DELIVERY_SIPI	6
#define ICR_LEVEL_ASSERT	(1u << 14)
#define SIPI_VALID		0x100u
/* x2APIC ICR bits that must be zero: 12, 13, 16, 17, 20..31 */
#define X2APIC_ICR_RESERVED	0xfff33000ull

/* Trap moves are serialized; a CPU's apic_page changes only under it. */
static struct spinlock trap_lock;

uint64_t cd_apic_page(void)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);

	return (base & APIC_BASE_ENABLE) && !(base & APIC_BASE_X2APIC) ? base & APIC_BASE_PAGE : 0;
}

/* On cpu at its launch (firmware context): where its APIC is, and the trap on that page. */
int cd_apic_launch(struct percpu *cpu)
{
	volatile uint32_t *apic;
	int err = 0;

	cpu->apic_page = cd_apic_page();
	if (!cpu->apic_page)
		return 0;
	apic = (volatile uint32_t *)(uintptr_t)cpu->apic_page;
	cpu->apic_ldr = apic[APIC_LDR / 4];
	cpu->apic_dfr = apic[APIC_DFR / 4];
	spin_lock(&trap_lock);
	if (ept_identity_writable(cd_ept_root(), cpu->apic_page))
		err = ept_identity_set_trap(cd_ept_root(), &host_pool, cpu->apic_page, true);
	spin_unlock(&trap_lock);
	return err;
}

/* Does some CPU under hvmetal have its xAPIC at page (so the page is trapped)? */
static bool page_trapped(uint64_t page)
{
	for (uint32_t i = 0; i < hv.boot.cpu_count; i++)
		if (hv.cpus[i].launched && __atomic_load_n(&hv.cpus[i].apic_page, __ATOMIC_ACQUIRE) == page)
			return true;
	return false;
}

uint8_t cd_apic_wait_sipi(struct percpu *cpu)
{
	/* Announce the wait before dropping the request: a sender checks either. */
	__atomic_store_n(&cpu->sipi_wait, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&cpu->init_request, 0, __ATOMIC_RELEASE);
	while (!(__atomic_load_n(&cpu->sipi_vector, __ATOMIC_ACQUIRE) & SIPI_VALID))
		cpu_pause();
	__atomic_store_n(&cpu->sipi_wait, 0, __ATOMIC_RELEASE);
	return cpu->sipi_vector & 0xff;
}

/* INIT to t: it takes the INIT state and parks; one already parked or on its way only forgets a SIPI. */
static void deliver_init(struct percpu *t)
{
	__atomic_store_n(&t->sipi_vector, 0, __ATOMIC_RELEASE);
	if (__atomic_load_n(&t->sipi_wait, __ATOMIC_ACQUIRE) ||
	    __atomic_exchange_n(&t->init_request, 1, __ATOMIC_ACQ_REL))
		return;
	kick_send(t);
}

/* Does an IPI this CPU sends with this ICR reach t, a CPU under hvmetal? */
static bool ipi_reaches(const struct percpu *t, uint32_t icr_lo, uint32_t dest, bool x2apic)
{
	struct ipi_target target = {
		.apic_id = t->apic_id, .ldr = t->apic_ldr, .dfr = t->apic_dfr, .self = t == this_cpu(),
	};

	return t->launched && ipi_dest_hits(icr_lo, dest, x2apic, &target);
}

/*
 * The control domain's NMI IPIs are never sent natively: each CPU under hvmetal
 * they reach gets its NMI as pending work, with a kick (kick.h), so no NMI of
 * its own is ever mistaken for a kick. CPUs outside hvmetal get none.
 */
static void send_nmi_ipi(uint32_t icr_lo, uint32_t dest, bool x2apic)
{
	for (uint32_t i = 0; i < hv.boot.cpu_count; i++)
		if (ipi_reaches(&hv.cpus[i], icr_lo, dest, x2apic))
			kick_cd_nmi(&hv.cpus[i]);
}

static bool is_nmi(uint32_t icr_lo)
{
	return ICR_DELIVERY(icr_lo) == ICR_DELIVERY_NMI;
}

/*
 * INIT and start-up IPIs to CPUs under hvmetal never reach them: an INIT becomes a
 * request plus an NMI that makes the target exit (cd_exits.c parks it), a SIPI
 * hands its vector to the parked target. Returns true when the caller must send
 * the IPI natively: only while the launch is under way (the firmware wakes CPUs
 * hvmetal has yet to launch) and no CPU under hvmetal took it. Once every CPU
 * launched or failed to (and parked), nothing hvmetal does not run may start.
 */
static bool virtualize_ipi(uint32_t icr_lo, uint32_t dest, bool x2apic)
{
	unsigned mode = ICR_DELIVERY(icr_lo);
	bool taken = false;

	for (uint32_t i = 0; i < hv.boot.cpu_count; i++) {
		struct percpu *t = &hv.cpus[i];

		if (!ipi_reaches(t, icr_lo, dest, x2apic))
			continue;
		taken = true;
		if (mode == ICR_DELIVERY_INIT && (icr_lo & ICR_LEVEL_ASSERT)) {
			deliver_init(t);
		} else if (mode == ICR_DELIVERY_SIPI &&
			   (__atomic_load_n(&t->init_request, __ATOMIC_ACQUIRE) ||
			    __atomic_load_n(&t->sipi_wait, __ATOMIC_ACQUIRE)) &&
			   !(t->sipi_vector & SIPI_VALID)) {
			__atomic_store_n(&t->sipi_vector, SIPI_VALID | (icr_lo & 0xff), __ATOMIC_RELEASE);
		}
		/* INIT de-assert, and a SIPI to a running CPU: no effect, as on hardware. */
	}
	return !taken && __atomic_load_n(&hv.cpus_launched, __ATOMIC_ACQUIRE) +
			 __atomic_load_n(&hv.cpus_failed, __ATOMIC_ACQUIRE) < hv.boot.cpu_count;
}

static bool is_init_or_sipi(uint32_t icr_lo)
{
	return ICR_DELIVERY(icr_lo) == ICR_DELIVERY_INIT || ICR_DELIVERY(icr_lo) == ICR_DELIVERY_SIPI;
}

static enum insn_mode caller_mode(void)
{
	uint64_t cs_ar = vmcs_read(VMCS_GUEST_CS_AR);

	if ((vmcs_read(VMCS_GUEST_EFER) & EFER_LMA) && (cs_ar & (1u << 13)))
		return INSN_MODE64;
	return (cs_ar & (1u << 14)) ? INSN_MODE32 : INSN_MODE16;
}

/* Fetches the faulting instruction: up to 15 bytes, fewer where the next page is absent. */
static int fetch_insn(uint8_t *buf, size_t *n)
{
	struct uaccess ua = hypercall_uaccess(0);
	uint64_t rip = vmcs_read(VMCS_GUEST_CS_BASE) + vmcs_read(VMCS_GUEST_RIP);
	size_t to_page_end = 4096 - (rip & 0xfff);

	if (caller_mode() != INSN_MODE64)
		rip &= 0xffffffff;
	*n = INSN_MAX_LEN;
	if (uaccess_fetch(&ua, buf, rip, *n) == 0)
		return 0;
	*n = to_page_end < INSN_MAX_LEN ? to_page_end : INSN_MAX_LEN;
	return uaccess_fetch(&ua, buf, rip, *n);
}

static struct log_limit refused_log, store_log, base_log;

/* A store into the xAPIC page: replay it, and see start-up IPIs go by. */
enum exit_action cd_exit_ept_violation(struct vmx_exit *ex)
{
	uint64_t gpa = vmcs_read(VMCS_GUEST_PHYS_ADDR), offset = gpa & 0xfff;
	uint64_t qual = vmcs_read(VMCS_EXIT_QUALIFICATION);
	volatile uint32_t *apic = (volatile uint32_t *)(uintptr_t)(gpa & ~0xfffull);
	uint8_t bytes[INSN_MAX_LEN];
	struct insn_store st;
	size_t n;
	uint32_t val, dest;
	bool trapped = page_trapped(gpa & ~0xfffull);

	/*
	 * A page trapped no more (a CPU moved its APIC away) that this CPU still
	 * held read-only in its TLB: drop the stale translation and retry.
	 */
	if (!trapped && ept_identity_writable(cd_ept_root(), gpa)) {
		cd_ept_flush();
		return EXIT_RESUME;
	}
	/*
	 * Only a store to an APIC page is expected here. Anything else (code fetched
	 * from it, or an address past the 256 TiB the EPT covers on CPUs with more
	 * physical address bits) has no memory behind it: the caller gets #GP.
	 */
	if (!trapped || !(qual & 2) || (qual & 4)) {
		log_limited(&refused_log,
			    "hvmetal: cpu %u: access %lx to guest-physical %lx refused with #GP\n",
			    this_cpu()->index, qual & 7, gpa);
		vmx_inject_exception(VEC_GP, 1, 0);
		return EXIT_RESUME;
	}
	if (fetch_insn(bytes, &n) < 0 || insn_decode_store32(bytes, n, caller_mode(), &st) < 0 ||
	    (offset & 3)) {
		log_limited(&store_log,
			    "hvmetal: cpu %u: unsupported store to APIC offset %lx at rip %lx: #GP\n",
			    this_cpu()->index, offset, vmcs_read(VMCS_GUEST_RIP));
		vmx_inject_exception(VEC_GP, 1, 0);
		return EXIT_RESUME;
	}
	val = st.has_imm ? st.imm : (uint32_t)vmx_gpr_read(ex->gpr, st.reg);
	if ((gpa & ~0xfffull) != this_cpu()->apic_page) {
		apic[offset / 4] = val;	/* another CPU's APIC page is plain memory to this one */
	} else {
		/* Only an ICR write sends anything: read its destination then alone. */
		dest = offset == APIC_ICR_LO ? apic[APIC_ICR_HI / 4] >> 24 : 0;
		if (offset == APIC_ICR_LO && is_nmi(val))
			send_nmi_ipi(val, dest, false);
		else if (!(offset == APIC_ICR_LO && is_init_or_sipi(val)) ||
			 virtualize_ipi(val, dest, false))
			apic[offset / 4] = val;
		/* The logical destination this CPU answers to, for the INITs others send. */
		if (offset == APIC_LDR)
			this_cpu()->apic_ldr = val;
		else if (offset == APIC_DFR)
			this_cpu()->apic_dfr = val;
	}
	/* No instruction length is reported for EPT violations: use the decoded one. */
	vmx_skip_insn(st.len);
	return EXIT_RESUME;
}

/* WRMSR to the x2APIC ICR (cd_msr.c): INIT and start-up IPIs are hvmetal's to deliver. */
int cd_apic_write_icr(uint64_t val)
{
	/* Checked as the CPU would, so the WRMSR below cannot fault in hvmetal. */
	if (!(rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_X2APIC) || (val & X2APIC_ICR_RESERVED))
		return -1;
	if (is_nmi((uint32_t)val))
		send_nmi_ipi((uint32_t)val, (uint32_t)(val >> 32), true);
	else if (!is_init_or_sipi((uint32_t)val) ||
		 virtualize_ipi((uint32_t)val, (uint32_t)(val >> 32), true))
		wrmsr(MSR_X2APIC_ICR, val);
	return 0;
}

/* Moves the trap from old to new (0: none); -1 when the pool lacks the tables. */
static int move_trap(uint64_t old, uint64_t new)
{
	if (new && !page_trapped(new) &&
	    ept_identity_set_trap(cd_ept_root(), &host_pool, new, true) < 0)
		return -1;
	__atomic_store_n(&this_cpu()->apic_page, new, __ATOMIC_RELEASE);
	if (old && old != new && !page_trapped(old))
		ept_identity_set_trap(cd_ept_root(), &host_pool, old, false);
	return 0;
}

/*
 * Every other CPU drops the control domain's old translations before it next
 * runs the control domain; one that runs it now is kicked out to do so. Not
 * waited for: until then such a CPU can at worst store to the new APIC page
 * through a stale translation, which reaches only CPUs under hvmetal (an INIT
 * exit) and never one it did not launch while a kick is in flight.
 */
static void flush_everywhere(void)
{
	struct percpu *me = this_cpu();

	cd_ept_flush();
	for (uint32_t i = 0; i < hv.boot.cpu_count; i++) {
		struct percpu *t = &hv.cpus[i];

		if (t == me || !t->launched)
			continue;
		percpu_set_pending(t, PENDING_CD_EPT);
		kick_send(t);
	}
}

/*
 * WRMSR to IA32_APIC_BASE (cd_msr.c). The CPU checks reserved bits and mode
 * transitions itself (its #GP becomes the caller's); hvmetal refuses an xAPIC
 * page on its own memory, where its loads would read APIC registers. The trap
 * on the xAPIC page follows the APIC: to its new page when it moves, off when
 * the CPU turns to x2APIC (the ICR MSR is trapped whatever the mode) or turns
 * its APIC off, back when it returns; a page stays trapped while any CPU has its
 * APIC there.
 */
int cd_apic_write_base(uint64_t val)
{
	struct percpu *cpu = this_cpu();
	uint64_t page = val & APIC_BASE_PAGE & ((1ull << hv.maxphyaddr) - 1);
	uint64_t old = cpu->apic_page;
	uint64_t new = (val & APIC_BASE_ENABLE) && !(val & APIC_BASE_X2APIC) ? page : 0;
	int err;

	if (new && new - hv.boot.region_base < hv.boot.region_size) {
		log_limited(&base_log, "hvmetal: cpu %u: xAPIC base %lx refused with #GP\n",
			    cpu->index, page);
		return -1;
	}
	spin_lock(&trap_lock);
	err = new == old ? 0 : move_trap(old, new);
	if (!err && msr_safe_write(MSR_IA32_APIC_BASE, val)) {
		move_trap(new, old);	/* the CPU refused the value: the trap goes back */
		err = -1;
	}
	spin_unlock(&trap_lock);
	if (new != old)
		flush_everywhere();
	if (err && new != old)
		log_limited(&base_log, "hvmetal: cpu %u: IA32_APIC_BASE %lx refused with #GP\n",
			    cpu->index, val);
	return err;
}
