#include "string.h"

/* memset and memcpy come from gnu-efi's libefi (plain byte loops, no SSE). */
int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}
