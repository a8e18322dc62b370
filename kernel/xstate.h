/*
 * Extended processor state (x87, SSE, AVX ...) of guests: the checks that make
 * XSETBV and XRSTOR in VMX root unable to fault on a value a client or guest
 * chose, and the save/restore wrappers. The checks are pure and host-tested.
 */
#ifndef HVMETAL_XSTATE_H
#define HVMETAL_XSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XSTATE_HEADER		512	/* XSTATE_BV at +0, XCOMP_BV at +8, then 48 reserved bytes */
#define XSTATE_MIN_SIZE		576
#define XSTATE_MXCSR		24
#define XSTATE_FCW		0
#define MXCSR_DEFAULT		0x1f80u
#define FCW_DEFAULT		0x037fu

/* Would XSETBV(0, val) succeed on a CPU supporting these components? */
bool xcr0_valid(uint64_t val, uint64_t supported);
/*
 * Would XRSTOR (standard form) of this area succeed?  MXCSR within the CPU's
 * mask, XSTATE_BV within what the CPU supports, XCOMP_BV zero, reserved header
 * bytes zero.
 */
bool xstate_area_valid(const uint8_t *area, uint64_t supported, uint32_t mxcsr_mask);
/* A fresh area: every component in its initial state. */
void xstate_area_init(uint8_t *area, size_t size);

#ifndef HVMETAL_HOST_TEST
static inline void xstate_save(void *area)
{
	__asm__ volatile("xsave64 (%0)" : : "r"(area), "a"(~0u), "d"(~0u) : "memory");
}

static inline void xstate_restore(const void *area)
{
	__asm__ volatile("xrstor64 (%0)" : : "r"(area), "a"(~0u), "d"(~0u) : "memory");
}

static inline uint64_t xcr0_read(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static inline void xcr0_write(uint64_t val)
{
	__asm__ volatile("xsetbv" : : "a"((uint32_t)val), "d"((uint32_t)(val >> 32)), "c"(0));
}
#endif

#endif
