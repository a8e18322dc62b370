/*
 * What the example VMM needs from the program around it, besides Apple's
 * Hypervisor API: somewhere to print. platform_efi.c gives it on hvmetal (COM1);
 * on macOS it is vprintf.
 */
#ifndef VMM_PLATFORM_H
#define VMM_PLATFORM_H

/*
 * printf-style output. The VMM uses only %s %c %d %u, %x and %llx (with '0' and
 * a width), which both libc and hvmetal's formatter understand.
 */
void plat_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
