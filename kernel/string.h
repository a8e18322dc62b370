/* The few libc string functions the freestanding core needs (the compiler emits calls to them). */
#ifndef HVMETAL_STRING_H
#define HVMETAL_STRING_H

#include <stddef.h>

#ifdef HVMETAL_HOST_TEST
#include <string.h>
#else
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif

#endif
