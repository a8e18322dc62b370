/*
 * Hypervisor.h - umbrella header, for callers that include
 * <Hypervisor/Hypervisor.h> as with the macOS framework.
 */
#ifndef HYPERVISOR_HYPERVISOR_H
#define HYPERVISOR_HYPERVISOR_H

#include <Hypervisor/hv.h>

#endif /* HYPERVISOR_HYPERVISOR_H */
