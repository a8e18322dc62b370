/*
 * What the example VMM needs from the program around it, besides Apple's
 * Hypervisor API: somewhere to print, the clock run_until's deadlines count,
 * and a second CPU to run a vCPU on. platform_efi.c gives them on hvmetal (COM1,
 * the TSC, UEFI MP services), platform_linux.c in Linux (stdout, the TSC,
 * pthreads); on macOS they are vprintf, mach_absolute_time and pthreads.
 */
#ifndef VMM_PLATFORM_H
#define VMM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>

/*
 * printf-style output. The VMM uses only %s %c %d %u, %x and %llx (with '0' and
 * a width), which both libc and hvmetal's formatter understand. Any CPU or
 * thread may print; lines do not mix.
 */
void plat_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The clock of hv_vcpu_run_until's deadlines (Apple: mach_absolute_time), and
 * how many of its ticks make ms milliseconds. Any CPU or thread may ask.
 */
uint64_t plat_clock(void);
uint64_t plat_clock_ms(unsigned ms);

/*
 * Starts fn(arg) on another CPU of the machine (a thread bound to one) and
 * returns at once; false when there is no other CPU, and nothing runs. fn may
 * make hv_* calls and print; it owns the vCPUs it creates. One at a time.
 */
bool plat_start_second_cpu(void (*fn)(void *arg), void *arg);
/* Waits until the fn started there has returned. */
void plat_wait_second_cpu(void);

#endif
