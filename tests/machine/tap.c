#include <stdarg.h>
#include "kernel/log.h"
#include "tap.h"

static unsigned tap_count, tap_failed;

bool tap_ok(bool cond, const char *fmt, ...)
{
	char name[160];
	va_list ap;

	va_start(ap, fmt);
	log_vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	tap_count++;
	if (!cond)
		tap_failed++;
	log_printf("%sok %u - %s\n", cond ? "" : "not ", tap_count, name);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	char line[200];
	va_list ap;

	va_start(ap, fmt);
	log_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_printf("# %s\n", line);
}

unsigned tap_done(void)
{
	log_printf("1..%u\n", tap_count);
	return tap_failed;
}
