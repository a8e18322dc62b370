/* Serial log on COM1: the only output hvmetal has once the firmware is a guest. */
#ifndef HVMETAL_LOG_H
#define HVMETAL_LOG_H

#include <stdarg.h>
#include <stdint.h>

void log_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vprintf(const char *fmt, va_list ap);
/* Waits until COM1 has sent every byte (before a power-off). */
void log_flush(void);

/*
 * Lines the control domain or a guest can trigger go through log_limited, so a
 * flood of them cannot keep CPUs on the UART under the log lock: per call site, a
 * burst of LOG_LIMIT_BURST lines per LOG_LIMIT_TICKS of the TSC (1-2 s at 2-4 GHz),
 * the rest dropped and counted; the next line let through is preceded by
 * "(N similar lines suppressed)". One zero-initialised static struct per call site.
 */
#define LOG_LIMIT_BURST	10
#define LOG_LIMIT_TICKS	(1ull << 32)

struct log_limit {
	uint64_t window_start;	/* TSC when the current window opened; all under the log lock */
	unsigned printed;	/* lines let through in this window */
	uint64_t suppressed;	/* lines dropped since the last one let through */
};

void log_limited(struct log_limit *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Format into buf (always NUL-terminated); return the length the whole text needs. */
int log_vsnprintf(char *buf, unsigned size, const char *fmt, va_list ap);
int log_snprintf(char *buf, unsigned size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#ifdef HVMETAL_HOST_TEST
/* Host builds read the TSC and COM1 through these; a test that prints sets them. */
struct log_host_hw {
	uint64_t (*rdtsc)(void);
	uint8_t (*inb)(uint16_t port);
	void (*outb)(uint16_t port, uint8_t v);
};
extern struct log_host_hw log_host_hw;
#endif

#endif
