/*
 * hvltest [VMM]: every Linux-side test of /dev/hvmetal in one TAP stream. The cases
 * that use libhv run in child processes of their own (libhv opens the device once
 * per process, and a VM lives as long as its process's open file): the TAP counter
 * sits in shared memory so that they number their lines with the parent's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>
#include "hvlt.h"

static struct tap {
	unsigned n, failed;
} *tap;

/* Out of the serial port before going on: a hang that follows shows where it happened. */
static void drain(void)
{
	fflush(stdout);
	tcdrain(STDOUT_FILENO);
}

static void line(const char *result, const char *fmt, va_list ap)
{
	unsigned n = __atomic_add_fetch(&tap->n, 1, __ATOMIC_SEQ_CST);
	char text[256];

	vsnprintf(text, sizeof(text), fmt, ap);
	printf("%s %u - %s\n", result, n, text);
	drain();
}

void ok(bool pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line(pass ? "ok" : "not ok", fmt, ap);
	va_end(ap);
	if (!pass)
		__atomic_add_fetch(&tap->failed, 1, __ATOMIC_SEQ_CST);
}

void skip(const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	printf("ok %u # SKIP %s\n", __atomic_add_fetch(&tap->n, 1, __ATOMIC_SEQ_CST), text);
	drain();
}

void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	drain();
}

/* The cases in order; HVLT_ONLY=name,name runs those only (for debugging one). */
static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
	{ "unprivileged", test_unprivileged },
	{ "driver", test_driver },
	{ "memory", test_memory },
	{ "release", test_release },
	{ "kill", test_kill },
	{ "sleep", test_sleep },
	{ "migrate", test_migrate },
	{ "apic", test_apic },
	{ "vmm", test_vmm },
};

static bool wanted(const char *only, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = only; p && *p; p += strcspn(p, ","), p += *p == ',')
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return true;
	return !only;
}

int main(int argc, char **argv)
{
	const char *only = getenv("HVLT_ONLY");
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		vmm_path = argv[1];
	tap = mmap(NULL, sizeof(*tap), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tap == MAP_FAILED) {
		printf("Bail out! no shared memory for the TAP counter\n");
		return 1;
	}
	fd = open(HVMETAL_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno != EACCES) {
		test_absent(errno);
	} else {
		if (fd >= 0)
			close(fd);
		for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			if (wanted(only, cases[i].name))
				cases[i].run();
	}
	printf("1..%u\n", tap->n);
	printf("# hvltest: %u tests, %u failed\n", tap->n, tap->failed);
	drain();
	return tap->failed ? 1 : 0;
}
