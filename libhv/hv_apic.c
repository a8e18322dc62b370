/*
 * Apple's APIC-acceleration API (HV_VM_ACCEL_APIC) over hvmetal's hypercalls
 * (docs/apic.md).  hv_vcpu_exit_info and the APIC_ACCESS_READ value come from
 * what VCPU_RUN returned (libhv's copy of the exit): the run loop of a VMM
 * asks for them after every exit and pays no hypercall.
 */
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "libhv.h"

static hv_return_t vcpu_call(uint64_t nr, hv_vcpuid_t vcpu, uint64_t a2, uint64_t *rdx)
{
	if (!libhv_vm())
		return HV_NO_DEVICE;
	return hvmetal_vmcall(nr, libhv_vm(), vcpu, a2, rdx);
}

static hv_return_t vm_call(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t *rdx)
{
	uint64_t d = 0, c = 0;
	hv_return_t r;

	if (!libhv_vm())
		return HV_NO_DEVICE;
	r = hvmetal_vmcall_rdx_rcx(nr, libhv_vm(), a1, a2, a3, &d, &c);
	if (rdx)
		*rdx = d;
	return r;
}

hv_return_t hv_vcpu_apic_ctrl(hv_vcpuid_t vcpu, hv_apic_ctrl_t ctrls)
{
	return vcpu_call(HVMETAL_HC_VCPU_APIC_CTRL, vcpu, ctrls, 0);
}

hv_return_t hv_vcpu_apic_read(hv_vcpuid_t vcpu, uint32_t offset, uint32_t *data)
{
	uint64_t v = 0;
	hv_return_t r;

	if (!data)
		return HV_BAD_ARGUMENT;
	r = vcpu_call(HVMETAL_HC_VCPU_APIC_READ, vcpu, offset, &v);
	if (r == HV_SUCCESS)
		*data = (uint32_t)v;
	return r;
}

hv_return_t hv_vcpu_apic_write(hv_vcpuid_t vcpu, uint32_t offset, uint32_t data, bool *no_side_effect)
{
	uint64_t nse = 0, code = 0;
	hv_return_t r;

	if (!no_side_effect)
		return HV_BAD_ARGUMENT;
	if (!libhv_vm())
		return HV_NO_DEVICE;
	r = hvmetal_vmcall_rdx_rcx(HVMETAL_HC_VCPU_APIC_WRITE, libhv_vm(), vcpu, offset, data, &nse, &code);
	if (r != HV_SUCCESS)
		return r;
	*no_side_effect = nse != 0;
	if (!nse)
		libhv_set_exit_code(vcpu, (uint32_t)code);
	return r;
}

hv_return_t hv_vcpu_apic_get_state(hv_vcpuid_t vcpu, hv_apic_state_ext_t *state)
{
	return vcpu_call(HVMETAL_HC_VCPU_APIC_GET_STATE, vcpu, (uintptr_t)state, 0);
}

hv_return_t hv_vcpu_apic_put_state(hv_vcpuid_t vcpu, const hv_apic_state_ext_t *state)
{
	return vcpu_call(HVMETAL_HC_VCPU_APIC_PUT_STATE, vcpu, (uintptr_t)state, 0);
}

hv_return_t hv_vcpu_apic_trigger_lvt(hv_vcpuid_t vcpu, hv_apic_lvt_flavor_t flavor)
{
	return vcpu_call(HVMETAL_HC_VCPU_APIC_TRIGGER_LVT, vcpu, flavor, 0);
}

static hv_return_t lsc_enter(hv_vcpuid_t vcpu, struct hvmetal_lsc_entry *e, const uint64_t uva[], unsigned count)
{
	if (count > 2 || (count && !uva))
		return HV_BAD_ARGUMENT;
	e->count = (uint8_t)count;
	for (unsigned i = 0; i < count; i++)
		e->uva[i] = uva[i];
	return vcpu_call(HVMETAL_HC_VCPU_APIC_LSC, vcpu, (uintptr_t)e, 0);
}

hv_return_t hv_vcpu_apic_lsc_enter_r32(hv_vcpuid_t vcpu, bool is_load, uint64_t rip, unsigned ilen,
				       uint16_t cs, hv_x86_reg_t reg, uint64_t uva[], unsigned count)
{
	struct hvmetal_lsc_entry e = {
		.rip = rip, .ilen = ilen, .cs = cs, .reg = reg,
		.kind = is_load ? HVMETAL_LSC_LOAD_R32 : HVMETAL_LSC_STORE_R32,
	};

	return lsc_enter(vcpu, &e, uva, count);
}

hv_return_t hv_vcpu_apic_lsc_enter_imm32(hv_vcpuid_t vcpu, uint64_t rip, unsigned ilen, uint16_t cs,
					 uint32_t imm32, uint64_t uva[], unsigned count)
{
	struct hvmetal_lsc_entry e = {
		.rip = rip, .ilen = ilen, .cs = cs, .imm = imm32, .kind = HVMETAL_LSC_STORE_IMM32,
	};

	return lsc_enter(vcpu, &e, uva, count);
}

hv_return_t hv_vcpu_apic_lsc_invalidate(hv_vcpuid_t vcpu)
{
	return vcpu_call(HVMETAL_HC_VCPU_APIC_LSC, vcpu, 0, 0);
}

hv_return_t hv_vcpu_inject_extint(hv_vcpuid_t vcpu)
{
	return vcpu_call(HVMETAL_HC_VCPU_INJECT_EXTINT, vcpu, 0, 0);
}

hv_return_t hv_vmx_vcpu_set_apic_address_space(hv_vcpuid_t vcpu, hv_vm_space_t asid, hv_gpaddr_t gpa)
{
	if (!libhv_vm())
		return HV_NO_DEVICE;
	return hvmetal_vmcall6(HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE, libhv_vm(), vcpu, gpa, asid, 0, 0);
}

/* ---- exit information ---- */

hv_return_t hv_vcpu_exit_info(hv_vcpuid_t vcpu, hv_vm_exitinfo_t *code)
{
	struct hvmetal_exit_info ei = { 0 };
	uint32_t c, value;
	hv_return_t r;

	if (!code)
		return HV_BAD_ARGUMENT;
	if (libhv_vm() && libhv_exit_code(vcpu, &c, &value)) {
		*code = c;
		return HV_SUCCESS;
	}
	r = vcpu_call(HVMETAL_HC_VCPU_EXIT_INFO, vcpu, (uintptr_t)&ei, 0);
	if (r == HV_SUCCESS)
		*code = ei.code;
	return r;
}

/* The details of the current exit information, when its code is `want`. */
static hv_return_t exit_detail(hv_vcpuid_t vcpu, uint32_t want, struct hvmetal_exit_info *ei)
{
	hv_return_t r = vcpu_call(HVMETAL_HC_VCPU_EXIT_INFO, vcpu, (uintptr_t)ei, 0);

	if (r == HV_SUCCESS && ei->code != want)
		return HV_BAD_ARGUMENT;
	return r;
}

static void fill_targets(uint64_t targets, bool is_actv[], unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		is_actv[i] = i < 64 && (targets >> i & 1);
}

hv_return_t hv_vcpu_exit_init_ap(hv_vcpuid_t vcpu, bool is_actv[], unsigned count)
{
	struct hvmetal_exit_info ei = { 0 };
	hv_return_t r;

	if (!is_actv && count)
		return HV_BAD_ARGUMENT;
	r = exit_detail(vcpu, HV_VM_EXITINFO_INIT_AP, &ei);
	if (r == HV_SUCCESS)
		fill_targets(ei.targets, is_actv, count);
	return r;
}

hv_return_t hv_vcpu_exit_startup_ap(hv_vcpuid_t vcpu, bool is_actv[], unsigned count, uint64_t *ap_rip)
{
	struct hvmetal_exit_info ei = { 0 };
	hv_return_t r;

	if ((!is_actv && count) || !ap_rip)
		return HV_BAD_ARGUMENT;
	r = exit_detail(vcpu, HV_VM_EXITINFO_STARTUP_AP, &ei);
	if (r == HV_SUCCESS) {
		fill_targets(ei.targets, is_actv, count);
		*ap_rip = ei.ap_rip;
	}
	return r;
}

hv_return_t hv_vcpu_exit_ioapic_eoi(hv_vcpuid_t vcpu, uint8_t *vec)
{
	struct hvmetal_exit_info ei = { 0 };
	hv_return_t r;

	if (!vec)
		return HV_BAD_ARGUMENT;
	r = exit_detail(vcpu, HV_VM_EXITINFO_IOAPIC_EOI, &ei);
	if (r == HV_SUCCESS)
		*vec = ei.vector;
	return r;
}

hv_return_t hv_vcpu_exit_apic_access_read(hv_vcpuid_t vcpu, uint32_t *value)
{
	struct hvmetal_exit_info ei = { 0 };
	uint32_t code, v;
	hv_return_t r;

	if (!value)
		return HV_BAD_ARGUMENT;
	if (libhv_vm() && libhv_exit_code(vcpu, &code, &v)) {
		if (code != HV_VM_EXITINFO_APIC_ACCESS_READ)
			return HV_BAD_ARGUMENT;
		*value = v;
		return HV_SUCCESS;
	}
	r = exit_detail(vcpu, HV_VM_EXITINFO_APIC_ACCESS_READ, &ei);
	if (r == HV_SUCCESS)
		*value = ei.apic_value;
	return r;
}

hv_return_t hv_vcpu_exit_inject_excp(hv_vcpuid_t vcpu, uint8_t *vec, bool *valid, uint32_t *code, bool *restart)
{
	struct hvmetal_exit_info ei = { 0 };
	hv_return_t r;

	if (!vec || !valid || !code || !restart)
		return HV_BAD_ARGUMENT;
	r = exit_detail(vcpu, HV_VM_EXITINFO_INJECT_EXCP, &ei);
	if (r == HV_SUCCESS) {
		*vec = ei.vector;
		*valid = ei.excp_valid;
		*code = ei.excp_code;
		*restart = ei.excp_restart;
	}
	return r;
}

/* ---- VM-wide: local APICs, IOAPIC, 8259 pair ---- */

hv_return_t hv_vm_lapic_set_intr(hv_vcpuid_t vcpu, uint8_t vector, hv_apic_intr_trigger_t trig)
{
	return vm_call(HVMETAL_HC_VM_LAPIC_SET_INTR, vcpu, vector, trig, 0);
}

hv_return_t hv_vm_lapic_msi(uint64_t addr, uint64_t data)
{
	return vm_call(HVMETAL_HC_VM_LAPIC_MSI, addr, data, 0, 0);
}

hv_return_t hv_vm_send_ioapic_intr(uint64_t data)
{
	return vm_call(HVMETAL_HC_VM_IOAPIC_INTR, data, 0, 0, 0);
}

hv_return_t hv_vm_set_apic_bus_freq(uint64_t freq)
{
	return vm_call(HVMETAL_HC_VM_APIC_BUS_FREQ, freq, 0, 0, 0);
}

/* Pins are ints in Apple's API: negative ones reach hvmetal as huge numbers and are refused there. */
hv_return_t hv_vm_ioapic_assert_irq(int intin)
{
	return vm_call(HVMETAL_HC_VM_IOAPIC_IRQ, (uint64_t)(int64_t)intin, HVMETAL_IRQ_ASSERT, 0, 0);
}

hv_return_t hv_vm_ioapic_deassert_irq(int intin)
{
	return vm_call(HVMETAL_HC_VM_IOAPIC_IRQ, (uint64_t)(int64_t)intin, HVMETAL_IRQ_DEASSERT, 0, 0);
}

hv_return_t hv_vm_ioapic_pulse_irq(int intin)
{
	return vm_call(HVMETAL_HC_VM_IOAPIC_IRQ, (uint64_t)(int64_t)intin, HVMETAL_IRQ_PULSE, 0, 0);
}

hv_return_t hv_vm_ioapic_read(hv_gpaddr_t gpa, uint32_t *datap)
{
	uint64_t v = 0;
	hv_return_t r;

	if (!datap)
		return HV_BAD_ARGUMENT;
	r = vm_call(HVMETAL_HC_VM_IOAPIC_MMIO, gpa, HVMETAL_IO_READ, 0, &v);
	if (r == HV_SUCCESS)
		*datap = (uint32_t)v;
	return r;
}

hv_return_t hv_vm_ioapic_write(hv_gpaddr_t gpa, uint32_t data)
{
	return vm_call(HVMETAL_HC_VM_IOAPIC_MMIO, gpa, HVMETAL_IO_WRITE, data, 0);
}

hv_return_t hv_vm_ioapic_get_state(hv_ioapic_state_ext_t *state)
{
	return vm_call(HVMETAL_HC_VM_IOAPIC_GET_STATE, (uintptr_t)state, 0, 0, 0);
}

hv_return_t hv_vm_ioapic_put_state(const hv_ioapic_state_ext_t *state)
{
	return vm_call(HVMETAL_HC_VM_IOAPIC_PUT_STATE, (uintptr_t)state, 0, 0, 0);
}

hv_return_t hv_vm_atpic_assert_irq(int irq)
{
	return vm_call(HVMETAL_HC_VM_ATPIC_IRQ, (uint64_t)(int64_t)irq, HVMETAL_IRQ_ASSERT, 0, 0);
}

hv_return_t hv_vm_atpic_deassert_irq(int irq)
{
	return vm_call(HVMETAL_HC_VM_ATPIC_IRQ, (uint64_t)(int64_t)irq, HVMETAL_IRQ_DEASSERT, 0, 0);
}

hv_return_t hv_vm_atpic_port_read(int port, uint8_t *valuep)
{
	uint64_t v = 0;
	hv_return_t r;

	if (!valuep)
		return HV_BAD_ARGUMENT;
	r = vm_call(HVMETAL_HC_VM_ATPIC_PORT, (uint64_t)(int64_t)port, HVMETAL_IO_READ, 0, &v);
	if (r == HV_SUCCESS)
		*valuep = (uint8_t)v;
	return r;
}

hv_return_t hv_vm_atpic_port_write(int port, uint8_t value)
{
	return vm_call(HVMETAL_HC_VM_ATPIC_PORT, (uint64_t)(int64_t)port, HVMETAL_IO_WRITE, value, 0);
}

hv_return_t hv_vm_atpic_get_state(hv_atpic_state_ext_t *state, bool is_primary)
{
	return vm_call(HVMETAL_HC_VM_ATPIC_GET_STATE, (uintptr_t)state, is_primary, 0, 0);
}

hv_return_t hv_vm_atpic_put_state(const hv_atpic_state_ext_t *state, bool is_primary)
{
	return vm_call(HVMETAL_HC_VM_ATPIC_PUT_STATE, (uintptr_t)state, is_primary, 0, 0);
}
