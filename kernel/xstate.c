#include "string.h"
#include "xstate.h"

#define XCR0_X87	(1ull << 0)
#define XCR0_SSE	(1ull << 1)
#define XCR0_AVX	(1ull << 2)
#define XCR0_MPX	(3ull << 3)
#define XCR0_AVX512	(7ull << 5)
#define XCR0_AMX	(3ull << 17)

/* SDM vol. 2, XSETBV: the combinations that raise #GP. */
bool xcr0_valid(uint64_t val, uint64_t supported)
{
	if (!(val & XCR0_X87) || (val & ~supported))
		return false;
	if ((val & XCR0_AVX) && !(val & XCR0_SSE))
		return false;
	if ((val & XCR0_AVX512) && ((val & XCR0_AVX512) != XCR0_AVX512 || !(val & XCR0_AVX)))
		return false;
	if ((val & XCR0_MPX) && (val & XCR0_MPX) != XCR0_MPX)
		return false;
	return !((val & XCR0_AMX) && (val & XCR0_AMX) != XCR0_AMX);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

bool xstate_area_valid(const uint8_t *area, uint64_t supported, uint32_t mxcsr_mask)
{
	uint32_t mxcsr;

	memcpy(&mxcsr, area + XSTATE_MXCSR, sizeof(mxcsr));
	if (mxcsr & ~mxcsr_mask)
		return false;
	if ((get64(area + XSTATE_HEADER) & ~supported) || get64(area + XSTATE_HEADER + 8))
		return false;
	for (unsigned off = XSTATE_HEADER + 16; off < XSTATE_MIN_SIZE; off += 8)
		if (get64(area + off))
			return false;
	return true;
}

void xstate_area_init(uint8_t *area, size_t size)
{
	uint16_t fcw = FCW_DEFAULT;
	uint32_t mxcsr = MXCSR_DEFAULT;

	memset(area, 0, size);
	memcpy(area + XSTATE_FCW, &fcw, sizeof(fcw));
	memcpy(area + XSTATE_MXCSR, &mxcsr, sizeof(mxcsr));
}
