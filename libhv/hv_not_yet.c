/*
 * Apple API functions whose hvmetal issue has not landed yet: each fails with
 * HV_UNSUPPORTED so that a macOS VMM links and learns at run time what is missing.
 * docs/api-status.md lists them; each moves to its own file when implemented.
 */
#include <Hypervisor/hv.h>

/* The parameters are Apple's; none is used until the call is implemented. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

hv_return_t hv_vm_add_pio_notifier(uint16_t addr, size_t size, uint32_t value, mach_port_t mach_port, hv_ion_flags_t flags)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_remove_pio_notifier(uint16_t addr, size_t size, uint32_t value, mach_port_t mach_port, hv_ion_flags_t flags)
{
	return HV_UNSUPPORTED;
}





hv_return_t hv_vmx_vcpu_set_apic_address_space(hv_vcpuid_t vcpu, hv_vm_space_t asid, hv_gpaddr_t gpa)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_ctrl(hv_vcpuid_t vcpu, hv_apic_ctrl_t ctrls)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_read(hv_vcpuid_t vcpu, uint32_t offset, uint32_t *data)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_write(hv_vcpuid_t vcpu, uint32_t offset, uint32_t data, bool *no_side_effect)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_get_state(hv_vcpuid_t vcpu, hv_apic_state_ext_t *state)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_put_state(hv_vcpuid_t vcpu, const hv_apic_state_ext_t *state)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_trigger_lvt(hv_vcpuid_t vcpu, hv_apic_lvt_flavor_t flavor)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_lsc_enter_r32(hv_vcpuid_t vcpu, bool is_load, uint64_t rip, unsigned ilen, uint16_t cs, hv_x86_reg_t reg, uint64_t uva[], unsigned count)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_lsc_enter_imm32(hv_vcpuid_t vcpu, uint64_t rip, unsigned ilen, uint16_t cs, uint32_t imm32, uint64_t uva[], unsigned count)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_apic_lsc_invalidate(hv_vcpuid_t vcpu)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_lapic_set_intr(hv_vcpuid_t vcpu, uint8_t vector, hv_apic_intr_trigger_t trig)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_lapic_msi(uint64_t addr, uint64_t data)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_set_apic_bus_freq(uint64_t freq)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_inject_extint(hv_vcpuid_t vcpu)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_exit_info(hv_vcpuid_t vcpu, hv_vm_exitinfo_t *code)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_exit_init_ap(hv_vcpuid_t vcpu, bool is_actv[], unsigned count)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_exit_startup_ap(hv_vcpuid_t vcpu, bool is_actv[], unsigned count, uint64_t *ap_rip)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_exit_ioapic_eoi(hv_vcpuid_t vcpu, uint8_t *vec)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_exit_apic_access_read(hv_vcpuid_t vcpu, uint32_t *value)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vcpu_exit_inject_excp(hv_vcpuid_t vcpu, uint8_t *vec, bool *valid, uint32_t *code, bool *restart)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_ioapic_assert_irq(int intin)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_ioapic_deassert_irq(int intin)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_ioapic_pulse_irq(int intin)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_ioapic_read(hv_gpaddr_t gpa, uint32_t *datap)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_ioapic_write(hv_gpaddr_t gpa, uint32_t data)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_ioapic_get_state(hv_ioapic_state_ext_t *state)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_ioapic_put_state(const hv_ioapic_state_ext_t *state)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_send_ioapic_intr(uint64_t data)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_atpic_assert_irq(int irq)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_atpic_deassert_irq(int irq)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_atpic_port_read(int port, uint8_t *valuep)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_atpic_port_write(int port, uint8_t value)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_atpic_get_state(hv_atpic_state_ext_t *state, bool is_primary)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_atpic_put_state(const hv_atpic_state_ext_t *state, bool is_primary)
{
	return HV_UNSUPPORTED;
}
