/*
 * What the example VMMs (examples/vmm, examples/mbvmm) need from the program
 * around them, besides Apple's Hypervisor API: an entry with arguments,
 * somewhere to print, files to read, the clock run_until's deadlines count,
 * and a second CPU to run a vCPU on. platform_efi.c gives them on hvmetal
 * (LoadOptions, COM1, the ESP, the TSC, UEFI MP services), platform_linux.c
 * in Linux (argv, stdout, files, the TSC, pthreads); on macOS they are main,
 * vprintf, stdio, mach_absolute_time and pthreads.
 */
#ifndef VMM_PLATFORM_H
#define VMM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The program: called once with its arguments (argv[0] its name); its result is the exit status. */
int plat_main(int argc, char **argv);
/* Its name (argv[0] where the platform has none to give). */
extern const char plat_name[];

/*
 * A whole file (a path as the program's command line gives it; on UEFI
 * relative to the ESP's root, '/' or '\\' between names) in memory the
 * platform allocates: false, with nothing allocated, when it cannot be read.
 */
bool plat_read_file(const char *path, uint8_t **data, size_t *size);

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
