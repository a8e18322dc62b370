/*
 * vmm: the example VMM as a Linux program in hvmetal's control domain, on libhv for
 * Linux (/dev/hvmetal). Built static (build/linux-cd/vmm): the test initramfs has no
 * C library. It prints on stdout, line by line; a second vCPU runs on a thread of
 * its own, bound to another CPU than the main thread's.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <Hypervisor/hv.h>
#include "platform.h"

#define CALIBRATE_NS	10000000ull

static uint64_t ticks_per_ms;		/* of hv_tsc_clock, measured once in main */

static pthread_t second;
static bool second_running;
static void (*second_fn)(void *);
static void *second_arg;

void plat_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* hvmetal's run_until deadlines are hv_tsc_clock() values. */
uint64_t plat_clock(void)
{
	return hv_tsc_clock();
}

uint64_t plat_clock_ms(unsigned ms)
{
	return ticks_per_ms * ms;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void calibrate(void)
{
	uint64_t n0 = monotonic_ns(), t0 = hv_tsc_clock(), n1, t1;

	while ((n1 = monotonic_ns()) - n0 < CALIBRATE_NS)
		;
	t1 = hv_tsc_clock();
	ticks_per_ms = (t1 - t0) * 1000000ull / (n1 - n0);
	if (!ticks_per_ms)
		ticks_per_ms = 1;
}

static void pin(pthread_t t, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(t, sizeof(set), &set);
}

static void *second_entry(void *unused)
{
	(void)unused;
	second_fn(second_arg);
	return NULL;
}

bool plat_start_second_cpu(void (*fn)(void *arg), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int ok;

	if (second_running || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return false;
	second_fn = fn;
	second_arg = arg;
	/* This thread on CPU 0, the new one on CPU 1: two CPUs for certain. */
	pin(pthread_self(), 0);
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	ok = pthread_create(&second, &attr, second_entry, NULL) == 0;
	pthread_attr_destroy(&attr);
	second_running = ok;
	return ok;
}

void plat_wait_second_cpu(void)
{
	if (!second_running)
		return;
	pthread_join(second, NULL);
	second_running = false;
}

bool plat_read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	long n;

	*data = NULL;
	if (!f)
		return false;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (*data = malloc((size_t)n + 1)) && fread(*data, 1, (size_t)n, f) == (size_t)n) {
		*size = (size_t)n;
		fclose(f);
		return true;
	}
	free(*data);
	*data = NULL;
	fclose(f);
	return false;
}

int main(int argc, char **argv)
{
	int code;

	setvbuf(stdout, NULL, _IOLBF, 0);
	calibrate();
	code = plat_main(argc, argv);
	printf("%s: exit code %d\n", argv[0], code);
	return code;
}
