#include <stdbool.h>
#include <stdint.h>
#include "cpu.h"
#include "log.h"
#include "spinlock.h"

#define COM1		0x3f8
#define COM_LSR		5
#define COM_LSR_THRE	0x20
#define COM_LSR_TEMT	0x40
/*
 * Polls of an unready transmitter before its character is dropped: at 115200 baud
 * a character leaves in 87 us, far less than this many port reads.
 */
#define COM_POLLS	100000

/* Longest line sent; a longer one is cut short. */
#define LOG_LINE_MAX	256

/* Serialises whole lines from different CPUs. */
static struct spinlock log_lock;
/* The last character timed out: the UART may be gone or held by flow control. Under log_lock. */
static bool com1_stuck;

#ifdef HVMETAL_HOST_TEST
struct log_host_hw log_host_hw;
#define log_rdtsc()		log_host_hw.rdtsc()
#define com1_in(reg)		log_host_hw.inb(COM1 + (reg))
#define com1_out(reg, v)	log_host_hw.outb(COM1 + (reg), v)
#else
#define log_rdtsc()		rdtsc()
#define com1_in(reg)		inb(COM1 + (reg))
#define com1_out(reg, v)	outb(COM1 + (reg), v)
#endif

/*
 * The firmware programmed COM1 (115200 8N1); hvmetal keeps its setting. A
 * transmitter that never gets ready must not hold a CPU in VMX root under the
 * lock: its character is dropped, and until it is ready again each next one
 * gets a single poll.
 */
static void serial_putc(char c)
{
	unsigned polls = com1_stuck ? 1 : COM_POLLS;

	while (!(com1_in(COM_LSR) & COM_LSR_THRE)) {
		if (--polls == 0) {
			com1_stuck = true;
			return;
		}
	}
	com1_stuck = false;
	com1_out(0, (uint8_t)c);
}

/* Sends n bytes, LF as CR LF; the caller holds log_lock. */
static void serial_write(const char *s, int n)
{
	for (int i = 0; i < n; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}

struct fmt_out {
	char *buf;
	unsigned size, len;
};

static void out_char(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_num(struct fmt_out *o, uint64_t v, unsigned base, int width, char pad, int neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	/* The sign goes before zero padding and after blank padding. */
	if (neg && pad == '0') {
		out_char(o, '-');
		width--;
	} else if (neg) {
		tmp[n++] = '-';
	}
	while (n < width--)
		out_char(o, pad);
	while (n)
		out_char(o, tmp[--n]);
}

/* Supports %s %c %d %u %x %p with optional '0', width and 'l'/'ll'/'z'. */
int log_vsnprintf(char *buf, unsigned size, const char *fmt, va_list ap)
{
	struct fmt_out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		char pad = ' ';
		int width = 0, lng = 0;

		if (*++fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z')
			lng = 1, fmt++;
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			for (s = s ? s : "(null)"; *s; s++)
				out_char(&o, *s);
			break;
		}
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

			out_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, width, pad, v < 0);
			break;
		}
		case 'u':
			out_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad, 0);
			break;
		case 'x':
			out_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad, 0);
			break;
		case 'p':
			out_char(&o, '0');
			out_char(&o, 'x');
			out_num(&o, (uintptr_t)va_arg(ap, void *), 16, 0, ' ', 0);
			break;
		case '%':
			out_char(&o, '%');
			break;
		default:
			out_char(&o, '?');
			if (!*fmt)
				fmt--;
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int log_snprintf(char *buf, unsigned size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = log_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* Formats one line into line[LOG_LINE_MAX]; returns the length sent. */
static int format_line(char *line, const char *fmt, va_list ap)
{
	int n = log_vsnprintf(line, LOG_LINE_MAX, fmt, ap);

	return n < LOG_LINE_MAX ? n : LOG_LINE_MAX - 1;
}

void log_vprintf(const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n = format_line(line, fmt, ap);

	spin_lock(&log_lock);
	serial_write(line, n);
	spin_unlock(&log_lock);
}

/*
 * A window opens with the first line let through once the last one is over. A
 * TSC behind the window's start (another CPU's, or one written back) moves the
 * start back but keeps the count: it neither reopens the burst nor silences the
 * call site for long.
 */
static bool log_limit_pass(struct log_limit *l, uint64_t now)
{
	if (now < l->window_start) {
		l->window_start = now;
	} else if (!l->printed || now - l->window_start >= LOG_LIMIT_TICKS) {
		l->window_start = now;
		l->printed = 0;
	}
	if (l->printed >= LOG_LIMIT_BURST) {
		l->suppressed++;
		return false;
	}
	l->printed++;
	return true;
}

void log_limited(struct log_limit *l, const char *fmt, ...)
{
	char line[LOG_LINE_MAX], note[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = format_line(line, fmt, ap);
	va_end(ap);
	spin_lock(&log_lock);
	if (log_limit_pass(l, log_rdtsc())) {
		if (l->suppressed) {
			int k = log_snprintf(note, sizeof(note), "(%lu similar lines suppressed)\n",
					     l->suppressed);

			serial_write(note, k);
			l->suppressed = 0;
		}
		serial_write(line, n);
	}
	spin_unlock(&log_lock);
}

void log_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(fmt, ap);
	va_end(ap);
}

void log_flush(void)
{
	for (unsigned spins = 0; spins < 1000000; spins++)
		if (com1_in(COM_LSR) & COM_LSR_TEMT)
			break;
}
