/*
 * Apple API functions hvmetal will not give (docs/api-status.md, "Never on x86"):
 * the PIO notifiers signal a Mach port, which a control domain does not have.
 * They fail with HV_UNSUPPORTED, so a macOS VMM links and learns it at run time.
 */
#include <Hypervisor/hv.h>

/* The parameters are Apple's; none is used. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

hv_return_t hv_vm_add_pio_notifier(uint16_t addr, size_t size, uint32_t value, mach_port_t mach_port, hv_ion_flags_t flags)
{
	return HV_UNSUPPORTED;
}

hv_return_t hv_vm_remove_pio_notifier(uint16_t addr, size_t size, uint32_t value, mach_port_t mach_port, hv_ion_flags_t flags)
{
	return HV_UNSUPPORTED;
}
