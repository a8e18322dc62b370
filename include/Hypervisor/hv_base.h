/*
 * hv_base.h - what every hvmetal Hypervisor.framework header needs.
 *
 * Apple's headers lean on Darwin's <sys/cdefs.h>, <os/base.h> and
 * <Availability.h> (__BEGIN_DECLS, OS_ENUM, API_AVAILABLE, nullability).
 * None of that exists on Linux or in a freestanding UEFI build, so the
 * hvmetal headers use only <stdint.h>, <stdbool.h>, <stddef.h> and the
 * three small macros below.  Availability and nullability annotations are
 * dropped: every function here exists in every hvmetal build.
 */
#ifndef HYPERVISOR_HV_BASE_H
#define HYPERVISOR_HV_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define HV_EXTERN_C_BEGIN	extern "C" {
#define HV_EXTERN_C_END		}
#else
#define HV_EXTERN_C_BEGIN
#define HV_EXTERN_C_END
#endif

/*
 * Compile-time layout checks inside the public headers: they catch a build
 * that changes the ABI under the caller (e.g. -fshort-enums).
 */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define HV_STATIC_ASSERT(expr, msg)	static_assert(expr, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define HV_STATIC_ASSERT(expr, msg)	_Static_assert(expr, msg)
#else
#define HV_STATIC_ASSERT(expr, msg) \
	extern int hv_static_assert_fallback[(expr) ? 1 : -1]
#endif

#endif /* HYPERVISOR_HV_BASE_H */
