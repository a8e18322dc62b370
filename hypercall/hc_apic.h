/* Hypercalls behind Apple's APIC-acceleration API (HV_VM_ACCEL_APIC, docs/apic.md). */
#ifndef HVMETAL_HC_APIC_H
#define HVMETAL_HC_APIC_H

#include "hypercall.h"

hv_return_t hc_vcpu_apic_ctrl(struct hcall *c);
hv_return_t hc_vcpu_apic_read(struct hcall *c);
hv_return_t hc_vcpu_apic_write(struct hcall *c);
hv_return_t hc_vcpu_apic_get_state(struct hcall *c);
hv_return_t hc_vcpu_apic_put_state(struct hcall *c);
hv_return_t hc_vcpu_apic_trigger_lvt(struct hcall *c);
hv_return_t hc_vcpu_apic_lsc(struct hcall *c);
hv_return_t hc_vcpu_inject_extint(struct hcall *c);
hv_return_t hc_vcpu_exit_info(struct hcall *c);
hv_return_t hc_vm_lapic_set_intr(struct hcall *c);
hv_return_t hc_vm_lapic_msi(struct hcall *c);
hv_return_t hc_vm_ioapic_intr(struct hcall *c);
hv_return_t hc_vm_apic_bus_freq(struct hcall *c);
hv_return_t hc_vm_ioapic_irq(struct hcall *c);
hv_return_t hc_vm_ioapic_mmio(struct hcall *c);
hv_return_t hc_vm_ioapic_get_state(struct hcall *c);
hv_return_t hc_vm_ioapic_put_state(struct hcall *c);
hv_return_t hc_vm_atpic_irq(struct hcall *c);
hv_return_t hc_vm_atpic_port(struct hcall *c);
hv_return_t hc_vm_atpic_get_state(struct hcall *c);
hv_return_t hc_vm_atpic_put_state(struct hcall *c);

#endif
