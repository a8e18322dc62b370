/*
 * vmm: the example VMM as a Linux program in hvmetal's control domain, on libhv for
 * Linux (/dev/hvmetal). Built static (build/linux-cd/vmm): the test initramfs has no
 * C library. It prints on stdout, line by line; vCPUs run on threads of their
 * own, each bound to one of the process's CPUs.
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

static int cpu_id[PLAT_CPUS_MAX];	/* the Linux CPU of the program's CPU n */
static unsigned cpus;
static struct started {
	pthread_t thread;
	bool running;
	void (*fn)(void *);
	void *arg;
} started[PLAT_CPUS_MAX];

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

/* The CPUs this process may use, the first for the main thread (bound there). */
static void find_cpus(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int i = 0; i < CPU_SETSIZE && cpus < PLAT_CPUS_MAX; i++)
			if (CPU_ISSET(i, &set))
				cpu_id[cpus++] = i;
	if (!cpus)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu_id[0], &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		cpus = 1;	/* not bound: no CPU of its own to leave to the others */
}

unsigned plat_cpu_count(void)
{
	return cpus ? cpus : 1;
}

static void *cpu_entry(void *arg)
{
	struct started *st = arg;

	st->fn(st->arg);
	return NULL;
}

bool plat_start_cpu(unsigned n, void (*fn)(void *arg), void *arg)
{
	struct started *st;
	pthread_attr_t attr;
	cpu_set_t set;

	if (n == 0 || n >= cpus || started[n].running)	/* cpus <= PLAT_CPUS_MAX */
		return false;
	st = &started[n];
	st->fn = fn;
	st->arg = arg;
	CPU_ZERO(&set);
	CPU_SET(cpu_id[n], &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	st->running = pthread_create(&st->thread, &attr, cpu_entry, st) == 0;
	pthread_attr_destroy(&attr);
	return st->running;
}

void plat_wait_cpus(void)
{
	for (unsigned n = 1; n < PLAT_CPUS_MAX; n++) {
		if (!started[n].running)
			continue;
		pthread_join(started[n].thread, NULL);
		started[n].running = false;
	}
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
	find_cpus();
	calibrate();
	code = plat_main(argc, argv);
	printf("%s: exit code %d\n", argv[0], code);
	return code;
}
