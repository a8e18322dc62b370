/*
 * hv_error.h - return codes of the Hypervisor.framework API (x86_64).
 *
 * The values are Apple's: Mach error system "local" (0x3e << 26), subsystem
 * 0xba5 (<< 14), then a small code, which gives 0xfae940xx.
 *
 * Apple types hv_return_t as mach_error_t, a 32-bit int.  hvmetal uses a
 * 32-bit unsigned type instead (the control-domain contract in API.md): the
 * bit patterns, size and calling convention are the same, and the codes
 * can be compared with == and switched on without sign-conversion warnings.
 * They are macros rather than enumerators because ISO C limits enumerators
 * to the range of int.
 */
#ifndef HYPERVISOR_HV_ERROR_H
#define HYPERVISOR_HV_ERROR_H

#include <Hypervisor/hv_base.h>

HV_EXTERN_C_BEGIN

typedef uint32_t hv_return_t;

#define HV_SUCCESS		((hv_return_t)0)
#define HV_ERROR		((hv_return_t)0xfae94001U) /* generic failure */
#define HV_BUSY			((hv_return_t)0xfae94002U) /* resource in use */
#define HV_BAD_ARGUMENT		((hv_return_t)0xfae94003U) /* invalid argument */
#define HV_NO_RESOURCES		((hv_return_t)0xfae94005U) /* out of memory etc. */
#define HV_NO_DEVICE		((hv_return_t)0xfae94006U) /* no VT-x / no VM */
#define HV_DENIED		((hv_return_t)0xfae94007U) /* not permitted */
#define HV_FAULT		((hv_return_t)0xfae94008U) /* bad guest/host address */
#define HV_UNSUPPORTED		((hv_return_t)0xfae9400fU) /* not available */

HV_STATIC_ASSERT(sizeof(hv_return_t) == 4, "hv_return_t is 32 bits");

HV_EXTERN_C_END

#endif /* HYPERVISOR_HV_ERROR_H */
