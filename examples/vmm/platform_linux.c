/*
 * vmm: the example VMM as a Linux program in hvmetal's control domain, on libhv for
 * Linux (/dev/hvmetal). Built static (build/linux-cd/vmm): the test initramfs has no
 * C library. It prints on stdout, line by line.
 */
#include <stdarg.h>
#include <stdio.h>
#include "platform.h"
#include "vmm.h"

void plat_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

int main(void)
{
	int code;

	setvbuf(stdout, NULL, _IOLBF, 0);
	code = vmm_main();
	printf("vmm: exit code %d\n", code);
	return code;
}
