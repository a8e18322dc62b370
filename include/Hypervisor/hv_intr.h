/*
 * hv_intr.h - in-hypervisor interrupt controllers (VMs created with
 * HV_VM_ACCEL_APIC): local APIC, IOAPIC and the 8259 pair (ATPIC).
 *
 * The three state structures are Apple's ABI, field for field; their
 * sizes are checked below.  A caller fills in .version with the matching
 * *_EXT_VER before a get_state or put_state call.
 *
 * Apple declares the state structures here and the functions in hv.h;
 * hvmetal keeps the functions with their structures.  hv.h includes this
 * file, so a caller that includes hv.h sees the same set of names.
 *
 * Calls taking a vcpu must be made on the vCPU's owning CPU unless the
 * comment says otherwise.
 */
#ifndef HYPERVISOR_HV_INTR_H
#define HYPERVISOR_HV_INTR_H

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_error.h>
#include <Hypervisor/hv_types.h>
#include <Hypervisor/hv_arch_x86.h>

HV_EXTERN_C_BEGIN

/* Where a vCPU is in the INIT/SIPI sequence (bhyve's BS_INIT/BS_SIPI/BS_RUNNING). */
enum hv_boot_state {
	HV_BS_INIT	= 0,	/* not yet INIT'ed: waiting for INIT (an AP at power-on) */
	HV_BS_SIPI	= 1,	/* INIT received: waiting for SIPI */
	HV_BS_RUNNING	= 2,	/* started: the BSP at power-on, an AP once its SIPI came */
};

/* Local APIC: registers are the 32-bit values of the xAPIC page. */
struct hv_apic_state {
	uint64_t apic_gpa;		/* IA32_APIC_BASE's page address (hvmetal: not the
				   APIC-access page of hv_vmx_vcpu_set_apic_address) */
	uint64_t apic_controls;		/* hv_apic_ctrl_t */
	uint64_t tsc_deadline;		/* IA32_TSC_DEADLINE */
	uint32_t apic_id;		/* ID register as read: xAPIC id << 24, x2APIC id */
	uint32_t ver;
	uint32_t tpr;
	uint32_t apr;
	uint32_t ldr;
	uint32_t dfr;
	uint32_t svr;
	uint32_t isr[8];		/* 256 bits each, vector order */
	uint32_t tmr[8];
	uint32_t irr[8];
	uint32_t esr;
	uint32_t lvt[7];		/* LVT, bhyve's order (hvmetal): LINT0, LINT1,
				   TIMER, ERROR, PMC, THERMAL, CMCI */
	uint32_t icr[2];		/* low, high */
	uint32_t icr_timer;		/* initial count */
	uint32_t dcr_timer;		/* divide configuration */
	uint32_t ccr_timer;		/* current count */
	uint32_t esr_pending;		/* errors not yet latched into esr */
	enum hv_boot_state boot_state;
	uint32_t aeoi[8];		/* vectors delivered with auto-EOI */
};

#define HV_APIC_STATE_EXT_VER	(100)

typedef struct {
	uint32_t version;		/* HV_APIC_STATE_EXT_VER */
	struct hv_apic_state state;
} hv_apic_state_ext_t;

/* One 8259A programmable interrupt controller (primary or secondary). */
struct hv_atpic_state {
	bool ready;			/* initialization sequence complete */
	uint8_t icw_num;		/* next ICW expected */
	uint8_t rd_cmd_reg;		/* OCW3 read-register command */
	bool aeoi;			/* auto-EOI mode */
	bool poll;			/* poll command pending */
	bool rotate;			/* rotate on auto-EOI */
	bool sfn;			/* special fully-nested mode */
	uint8_t irq_base;		/* vector of IR0 */
	uint8_t request;		/* IRR */
	uint8_t service;		/* ISR */
	uint8_t mask;			/* IMR */
	bool smm;			/* special mask mode */
	uint8_t last_request;		/* input levels as last seen (edge detection) */
	uint8_t lowprio;		/* lowest-priority IR line */
	bool intr_raised;		/* INT output asserted */
	uint8_t elc;			/* edge/level control (ELCR) */
};

#define HV_ATPIC_STATE_EXT_VER	(100)

typedef struct {
	uint32_t version;		/* HV_ATPIC_STATE_EXT_VER */
	struct hv_atpic_state state;
} hv_atpic_state_ext_t;

/* The IOAPIC: 32 redirection-table entries. */
struct hv_ioapic_state {
	uint64_t rtbl[32];
	uint32_t irr;			/* pin levels: bit n set while input pin n is
				   asserted (remote IRR is bit 14 of rtbl[n]) */
	uint32_t ioa_id;		/* IOAPIC ID, 0..15 (ID register bits 27:24) */
	uint32_t ioregsel;		/* index register */
};

#define HV_IOAPIC_STATE_EXT_VER	(100)

typedef struct {
	uint32_t version;		/* HV_IOAPIC_STATE_EXT_VER */
	struct hv_ioapic_state state;
} hv_ioapic_state_ext_t;

HV_STATIC_ASSERT(sizeof(enum hv_boot_state) == 4, "boot_state is 32 bits");
HV_STATIC_ASSERT(sizeof(struct hv_apic_state) == 240, "hv_apic_state ABI");
HV_STATIC_ASSERT(sizeof(hv_apic_state_ext_t) == 248, "hv_apic_state_ext_t ABI");
HV_STATIC_ASSERT(sizeof(struct hv_atpic_state) == 16, "hv_atpic_state ABI");
HV_STATIC_ASSERT(sizeof(hv_atpic_state_ext_t) == 20, "hv_atpic_state_ext_t ABI");
HV_STATIC_ASSERT(sizeof(struct hv_ioapic_state) == 272, "hv_ioapic_state ABI");
HV_STATIC_ASSERT(sizeof(hv_ioapic_state_ext_t) == 280, "hv_ioapic_state_ext_t ABI");

/* --- Local APIC ------------------------------------------------------ */

/* Set the hv_apic_ctrl_t behaviour flags of a vCPU's APIC. */
hv_return_t hv_vcpu_apic_ctrl(hv_vcpuid_t vcpu, hv_apic_ctrl_t ctrls);

/* Read the 32-bit APIC register at a byte offset into the APIC page. */
hv_return_t hv_vcpu_apic_read(hv_vcpuid_t vcpu, uint32_t offset,
	uint32_t *data);

/*
 * Write an APIC register.  *no_side_effect comes back false when the write
 * needs the caller to act (an IPI to start an AP, an EOI for the IOAPIC,
 * ...): hv_vcpu_exit_info() then says what.
 */
hv_return_t hv_vcpu_apic_write(hv_vcpuid_t vcpu, uint32_t offset,
	uint32_t data, bool *no_side_effect);

hv_return_t hv_vcpu_apic_get_state(hv_vcpuid_t vcpu,
	hv_apic_state_ext_t *state);

/* Restore a saved state; the VM must be quiescent. */
hv_return_t hv_vcpu_apic_put_state(hv_vcpuid_t vcpu,
	const hv_apic_state_ext_t *state);

/* Fire an LVT entry; only HV_APIC_LVT_FLAVOR_TIMER is supported. */
hv_return_t hv_vcpu_apic_trigger_lvt(hv_vcpuid_t vcpu,
	hv_apic_lvt_flavor_t flavor);

/*
 * APIC load/store cache.  An APIC-access exit at (rip, ilen, cs) that
 * matches an entry is completed in the hypervisor: a 32-bit move between
 * the APIC register and reg (enter_r32; is_load means APIC -> reg) or a
 * store of imm32 (enter_imm32).  uva[] (count 0, 1 or 2) names the
 * caller's mapping of the page(s) holding the instruction; when given, the
 * instruction bytes and guest paging state are recorded and the entry is
 * dropped as soon as they change.
 */
hv_return_t hv_vcpu_apic_lsc_enter_r32(hv_vcpuid_t vcpu, bool is_load,
	uint64_t rip, unsigned ilen, uint16_t cs, hv_x86_reg_t reg,
	uint64_t uva[], unsigned count);
hv_return_t hv_vcpu_apic_lsc_enter_imm32(hv_vcpuid_t vcpu, uint64_t rip,
	unsigned ilen, uint16_t cs, uint32_t imm32, uint64_t uva[],
	unsigned count);
hv_return_t hv_vcpu_apic_lsc_invalidate(hv_vcpuid_t vcpu);

/* Deliver a vector to a vCPU's APIC; any CPU may call this. */
hv_return_t hv_vm_lapic_set_intr(hv_vcpuid_t vcpu, uint8_t vector,
	hv_apic_intr_trigger_t trig);

/* Deliver an MSI (address/data pair) to the VM's APICs. */
hv_return_t hv_vm_lapic_msi(uint64_t addr, uint64_t data);

/* APIC timer input frequency, 16 MHz to 2 GHz; only with no vCPUs. */
hv_return_t hv_vm_set_apic_bus_freq(uint64_t freq);

/* Queue one external interrupt (from the ATPIC) for injection. */
hv_return_t hv_vcpu_inject_extint(hv_vcpuid_t vcpu);

/* --- Follow-up information after an exit or an APIC write ------------ */

hv_return_t hv_vcpu_exit_info(hv_vcpuid_t vcpu, hv_vm_exitinfo_t *code);

/* HV_VM_EXITINFO_INIT_AP: is_actv[i] set for each vCPU i sent an INIT. */
hv_return_t hv_vcpu_exit_init_ap(hv_vcpuid_t vcpu, bool is_actv[],
	unsigned count);

/* HV_VM_EXITINFO_STARTUP_AP: the SIPI targets and their start RIP. */
hv_return_t hv_vcpu_exit_startup_ap(hv_vcpuid_t vcpu, bool is_actv[],
	unsigned count, uint64_t *ap_rip);

/* HV_VM_EXITINFO_IOAPIC_EOI: the vector to broadcast to the IOAPIC. */
hv_return_t hv_vcpu_exit_ioapic_eoi(hv_vcpuid_t vcpu, uint8_t *vec);

/* HV_VM_EXITINFO_APIC_ACCESS_READ: the value the guest is reading. */
hv_return_t hv_vcpu_exit_apic_access_read(hv_vcpuid_t vcpu,
	uint32_t *value);

/* HV_VM_EXITINFO_INJECT_EXCP: the exception to reflect to the guest
 * (hvmetal never reports it: it injects the #GPs itself). */
hv_return_t hv_vcpu_exit_inject_excp(hv_vcpuid_t vcpu, uint8_t *vec,
	bool *valid, uint32_t *code, bool *restart);

/* --- IOAPIC ---------------------------------------------------------- */

hv_return_t hv_vm_ioapic_assert_irq(int intin);
hv_return_t hv_vm_ioapic_deassert_irq(int intin);
hv_return_t hv_vm_ioapic_pulse_irq(int intin);

/* MMIO access to the IOAPIC window, by guest physical address. */
hv_return_t hv_vm_ioapic_read(hv_gpaddr_t gpa, uint32_t *datap);
hv_return_t hv_vm_ioapic_write(hv_gpaddr_t gpa, uint32_t data);

hv_return_t hv_vm_ioapic_get_state(hv_ioapic_state_ext_t *state);
hv_return_t hv_vm_ioapic_put_state(const hv_ioapic_state_ext_t *state);

/* Send an interrupt described like an IOAPIC redirection entry. */
hv_return_t hv_vm_send_ioapic_intr(uint64_t data);

/* --- ATPIC (8259 pair) ----------------------------------------------- */

hv_return_t hv_vm_atpic_assert_irq(int irq);
hv_return_t hv_vm_atpic_deassert_irq(int irq);

/* Guest I/O to the 8259 ports (0x20/0x21, 0xa0/0xa1) and the ELCR (0x4d0/0x4d1). */
hv_return_t hv_vm_atpic_port_read(int port, uint8_t *valuep);
hv_return_t hv_vm_atpic_port_write(int port, uint8_t value);

hv_return_t hv_vm_atpic_get_state(hv_atpic_state_ext_t *state,
	bool is_primary);
hv_return_t hv_vm_atpic_put_state(const hv_atpic_state_ext_t *state,
	bool is_primary);

HV_EXTERN_C_END

#endif /* HYPERVISOR_HV_INTR_H */
