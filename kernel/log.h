/* Serial log on COM1: the only output hvmetal has once the firmware is a guest. */
#ifndef HVMETAL_LOG_H
#define HVMETAL_LOG_H

#include <stdarg.h>
#include <stdint.h>

void log_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vprintf(const char *fmt, va_list ap);
/* Waits until COM1 has sent every byte (before a power-off). */
void log_flush(void);

/* Format into buf (always NUL-terminated); return the length the whole text needs. */
int log_vsnprintf(char *buf, unsigned size, const char *fmt, va_list ap);
int log_snprintf(char *buf, unsigned size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#ifdef HVMETAL_HOST_TEST
/* Host builds reach COM1 through these; a test that prints sets them. */
struct log_host_hw {
	uint8_t (*inb)(uint16_t port);
	void (*outb)(uint16_t port, uint8_t v);
};
extern struct log_host_hw log_host_hw;
#endif

#endif
