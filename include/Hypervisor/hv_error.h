/*
 * hv_error.h - return codes of the Hypervisor.framework API (x86_64).
 *
 * As in Apple's header: hv_return_t is mach_error_t, a signed 32-bit int,
 * and the codes are enumerators (type int) built the Mach way: system
 * "local" (0x3e << 26) | subsystem 0xba5 (<< 14) | a small code, which
 * spells 0xfae940xx and is negative as an int.  So a caller may store a
 * result in an int, test it with "< 0", switch on it, or print it with
 * %x (the same 0xfae940xx digits) exactly as on macOS.
 *
 * HV_FAULT is listed in Apple's current reference but not in the x86
 * hv_error.h of the macOS 12 SDK; its value (code 0x08) is hvmetal's.
 *
 * The hypercall ABI carries a result in RAX zero-extended (bits 63:32
 * clear): see HVMETAL_RAX() in <hvmetal/abi.h>.
 */
#ifndef HYPERVISOR_HV_ERROR_H
#define HYPERVISOR_HV_ERROR_H

#include <Hypervisor/hv_base.h>

HV_EXTERN_C_BEGIN

/* Mach's err_local | err_sub(0xba5), as <mach/error.h> computes it. */
#define HV_ERR_COMMON_HYPERVISOR \
	((int)(((0x3eu & 0x3fu) << 26) | ((0xba5u & 0xfffu) << 14)))

typedef int hv_return_t;

enum {
	HV_SUCCESS	= 0,
	HV_ERROR	= HV_ERR_COMMON_HYPERVISOR | 0x01, /* (0xfae94001) generic failure */
	HV_BUSY		= HV_ERR_COMMON_HYPERVISOR | 0x02, /* (0xfae94002) resource in use */
	HV_BAD_ARGUMENT	= HV_ERR_COMMON_HYPERVISOR | 0x03, /* (0xfae94003) invalid argument */
	HV_NO_RESOURCES	= HV_ERR_COMMON_HYPERVISOR | 0x05, /* (0xfae94005) out of memory etc. */
	HV_NO_DEVICE	= HV_ERR_COMMON_HYPERVISOR | 0x06, /* (0xfae94006) no VT-x / no VM */
	HV_DENIED	= HV_ERR_COMMON_HYPERVISOR | 0x07, /* (0xfae94007) not permitted */
	HV_FAULT	= HV_ERR_COMMON_HYPERVISOR | 0x08, /* (0xfae94008) bad guest/host address */
	HV_UNSUPPORTED	= HV_ERR_COMMON_HYPERVISOR | 0x0f, /* (0xfae9400f) not available */
};

HV_STATIC_ASSERT(sizeof(hv_return_t) == 4, "hv_return_t is 32 bits");
HV_STATIC_ASSERT((hv_return_t)-1 < 0, "hv_return_t is signed (mach_error_t)");
HV_STATIC_ASSERT((unsigned)HV_BAD_ARGUMENT == 0xfae94003u, "Apple's bit pattern");

HV_EXTERN_C_END

#endif /* HYPERVISOR_HV_ERROR_H */
