/*
 * What the example VMMs (examples/vmm, examples/mbvmm) need from the program
 * around them, besides Apple's Hypervisor API: an entry with arguments,
 * somewhere to print, files to read, the clock run_until's deadlines count,
 * and other CPUs to run vCPUs on. platform_efi.c gives them on hvmetal
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

/* CPUs the program may run on, this one included (1: only this one); at most PLAT_CPUS_MAX. */
#define PLAT_CPUS_MAX	8
unsigned plat_cpu_count(void);
/*
 * Starts fn(arg) on CPU n of the program's (1 .. plat_cpu_count() - 1; the
 * calling thread is on CPU 0), a thread bound to it, and returns at once;
 * false when it cannot, and nothing runs. fn may make hv_* calls and print;
 * it owns the vCPUs it creates. One fn per CPU at a time.
 */
bool plat_start_cpu(unsigned n, void (*fn)(void *arg), void *arg);
/* Waits until every fn started has returned. */
void plat_wait_cpus(void);

#endif
