/*
 * Host tests for the log: the formatter (log_vsnprintf / log_snprintf: the
 * conversions hvmetal uses, width and zero padding, truncation), and what goes
 * out on a fake COM1 under a fake TSC (a transmitter that is never ready,
 * log_limited's burst, window and count of dropped lines).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kernel/log.h"
#include "kernel/string.h"

static char buf[256];

static int
reset(void **state)
{
	(void)state;
	memset(buf, 0x7f, sizeof(buf));
	return 0;
}

/* Formats into buf and checks text and returned length. */
#define EXPECT(want, ...) do {							\
	int n_ = log_snprintf(buf, sizeof(buf), __VA_ARGS__);			\
										\
	assert_string_equal(buf, want);						\
	assert_int_equal(n_, strlen(want));					\
} while (0)

static int
via_va_list(char *out, unsigned size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = log_vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n;
}

static void
test_plain(void **state)
{
	(void)state;
	EXPECT("", "%s", "");
	EXPECT("hello, world\n", "hello, world\n");
	EXPECT("100%", "100%%");
	EXPECT("%%", "%%%%");
	EXPECT("a%b", "a%%%c", 'b');
}

static void
test_strings_chars(void **state)
{
	(void)state;
	EXPECT("[abc]", "[%s]", "abc");
	/* Through the unchecked wrapper: the compiler rejects a literal NULL. */
	assert_int_equal(via_va_list(buf, sizeof(buf), "x=%s", (char *)NULL), 8);
	assert_string_equal(buf, "x=(null)");
	EXPECT("one two", "%s %s", "one", "two");
	EXPECT("Z", "%c", 'Z');
	EXPECT("a-b", "%c%c%c", 'a', '-', 'b');
	EXPECT("\\EFI\\hvmetal", "%s", "\\EFI\\hvmetal");
}

static void
test_signed(void **state)
{
	(void)state;
	EXPECT("0", "%d", 0);
	EXPECT("42", "%d", 42);
	EXPECT("-42", "%d", -42);
	EXPECT("-1", "%d", -1);
	EXPECT("2147483647", "%d", INT32_MAX);
	EXPECT("-2147483648", "%d", INT32_MIN);
	EXPECT("-9223372036854775808", "%ld", (long)INT64_MIN);
	EXPECT("9223372036854775807", "%lld", (long long)INT64_MAX);
	EXPECT("-5", "%ld", -5l);
	/* Without 'l' only 32 bits are taken. */
	EXPECT("-1 7", "%d %d", -1, 7);
}

static void
test_unsigned_hex(void **state)
{
	(void)state;
	EXPECT("0", "%u", 0u);
	EXPECT("4294967295", "%u", UINT32_MAX);
	EXPECT("18446744073709551615", "%lu", (unsigned long)UINT64_MAX);
	EXPECT("12345", "%zu", (size_t)12345);
	EXPECT("0", "%x", 0u);
	EXPECT("deadbeef", "%x", 0xdeadbeefu);
	EXPECT("fedcba9876543210", "%lx", 0xfedcba9876543210ul);
	EXPECT("ffffffffffffffff", "%llx", ~0ull);
	EXPECT("ffffffff", "%x", -1);
	EXPECT("a 10", "%x %u", 10u, 10u);
}

static void
test_pointer(void **state)
{
	(void)state;
	EXPECT("0x1234", "%p", (void *)0x1234);
	EXPECT("0x0", "%p", NULL);
	EXPECT("0xffff800000001000", "%p", (void *)0xffff800000001000ul);
	EXPECT("@0xabc!", "@%p!", (void *)0xabc);
}

static void
test_width(void **state)
{
	(void)state;
	EXPECT("   42", "%5d", 42);
	EXPECT("00042", "%05d", 42);
	EXPECT("-0042", "%05d", -42);
	EXPECT("-000007", "%07ld", -7L);
	EXPECT("  -42", "%5d", -42);
	EXPECT("0000beef", "%08x", 0xbeefu);
	EXPECT("00000000", "%08x", 0u);
	EXPECT("0000000000001000", "%016lx", 0x1000ul);
	EXPECT("      4096", "%10lu", 4096ul);
	EXPECT("     0", "%6u", 0u);
	/* Width is a minimum, never a truncation. */
	EXPECT("123456", "%3d", 123456);
	EXPECT("deadbeef", "%04x", 0xdeadbeefu);
	EXPECT("-12345", "%5d", -12345);
	/* Several in one line, as the boot log uses them. */
	EXPECT("cpu 03 apic 0x0a rip 00000000fffffff0",
	       "cpu %02u apic 0x%02x rip %016lx", 3u, 10u, 0xfffffff0ul);
}

static void
test_truncation(void **state)
{
	char small[8];

	(void)state;
	memset(small, 0x7f, sizeof(small));
	/* Always NUL-terminated; returns what the whole text needs. */
	assert_int_equal(log_snprintf(small, sizeof(small), "hello world"), 11);
	assert_string_equal(small, "hello w");
	assert_int_equal(log_snprintf(small, sizeof(small), "%d", 123456789), 9);
	assert_string_equal(small, "1234567");
	assert_int_equal(log_snprintf(small, sizeof(small), "%s=%lx", "rip", 0xabcdef12ul), 12);
	assert_string_equal(small, "rip=abc");
	assert_int_equal(log_snprintf(small, sizeof(small), "%p", (void *)0x12345678), 10);
	assert_string_equal(small, "0x12345");

	/* Exactly fits, and one too many. */
	assert_int_equal(log_snprintf(small, 8, "1234567"), 7);
	assert_string_equal(small, "1234567");
	assert_int_equal(log_snprintf(small, 7, "1234567"), 7);
	assert_string_equal(small, "123456");

	/* Size 1: only the NUL. */
	memset(small, 0x7f, sizeof(small));
	assert_int_equal(log_snprintf(small, 1, "abc%d", 5), 4);
	assert_int_equal(small[0], 0);
	assert_int_equal(small[1], 0x7f);

	/* Size 0: nothing written at all. */
	memset(small, 0x7f, sizeof(small));
	assert_int_equal(log_snprintf(small, 0, "abc%s", "def"), 6);
	for (size_t i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 0x7f);
}

static void
test_truncation_no_overrun(void **state)
{
	(void)state;
	/* Heap buffers of every size, so ASan sees a write one past the end. */
	for (unsigned size = 1; size <= 24; size++) {
		char *b = malloc(size);
		int n;

		assert_non_null(b);
		n = log_snprintf(b, size, "%s %05u %x %c", "abcdef", 42u, 0xcafeu, '!');
		assert_int_equal(n, strlen("abcdef 00042 cafe !"));
		assert_int_equal(strlen(b), (unsigned)n < size ? (unsigned)n : size - 1);
		assert_memory_equal(b, "abcdef 00042 cafe !", strlen(b));
		free(b);
	}
}

static void
test_va_list(void **state)
{
	(void)state;
	assert_int_equal(via_va_list(buf, sizeof(buf), "%s:%d:%x", "f", -3, 255u), 7);
	assert_string_equal(buf, "f:-3:ff");
	assert_int_equal(via_va_list(buf, 4, "%u", 1234567u), 7);
	assert_string_equal(buf, "123");
}

static void
test_malformed(void **state)
{
	static const char fmt[] = "ab%";
	char *heap_fmt = malloc(sizeof(fmt));
	int n;

	(void)state;
	/* A '%' at the very end must not read past the format's NUL. */
	assert_non_null(heap_fmt);
	memcpy(heap_fmt, fmt, sizeof(fmt));
	n = via_va_list(buf, sizeof(buf), heap_fmt);
	assert_int_equal(n, strlen(buf));
	assert_memory_equal(buf, "ab", 2);
	memcpy(heap_fmt, "%05", 4);
	n = via_va_list(buf, sizeof(buf), heap_fmt);
	assert_int_equal(n, strlen(buf));
	free(heap_fmt);
	/* Text after an unknown conversion still comes out. */
	n = via_va_list(buf, sizeof(buf), "x%qy");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[0], 'x');
	assert_int_equal(buf[n - 1], 'y');
}

/* A fake COM1 and TSC: what was sent, how often LSR was read. */
static char sent[4096];
static size_t n_sent;
static bool com1_ready;
static unsigned long lsr_reads;
static uint64_t tsc;

static uint64_t
fake_rdtsc(void)
{
	return tsc;
}

static uint8_t
fake_inb(uint16_t port)
{
	assert_int_equal(port, 0x3f8 + 5);
	/* A wait without end fails here rather than hanging the test. */
	if (++lsr_reads > 10000000)
		fail_msg("COM1 polled %lu times", lsr_reads);
	return com1_ready ? 0x60 : 0;		/* THRE and TEMT */
}

static void
fake_outb(uint16_t port, uint8_t v)
{
	assert_int_equal(port, 0x3f8);
	assert_true(n_sent + 1 < sizeof(sent));
	sent[n_sent++] = (char)v;
	sent[n_sent] = 0;
}

/* A ready COM1 (which also ends a timed-out state left by another test), nothing sent. */
static int
com1_reset(void **state)
{
	(void)state;
	log_host_hw.rdtsc = fake_rdtsc;
	log_host_hw.inb = fake_inb;
	log_host_hw.outb = fake_outb;
	com1_ready = true;
	log_printf("-");
	n_sent = 0;
	sent[0] = 0;
	lsr_reads = 0;
	tsc = 0;
	return 0;
}

static void
test_com1_lines(void **state)
{
	char long_line[400];

	(void)state;
	log_printf("a\nb %d\n", 5);
	assert_string_equal(sent, "a\r\nb 5\r\n");
	/* One poll per character when the transmitter is ready. */
	assert_int_equal(lsr_reads, 8);
	/* A line longer than 255 characters is cut there. */
	memset(long_line, 'x', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = 0;
	n_sent = 0;
	log_printf("%s", long_line);
	assert_int_equal(n_sent, 255);
}

static void
test_com1_never_ready(void **state)
{
	unsigned long first;

	(void)state;
	/* The first character waits a bounded time, then it and the rest are dropped. */
	com1_ready = false;
	log_printf("hello\n");
	assert_int_equal(n_sent, 0);
	assert_true(lsr_reads > 7);
	first = lsr_reads - 6;
	/* Once one timed out, each next character gets one poll. */
	lsr_reads = 0;
	log_printf("abc");
	assert_int_equal(lsr_reads, 3);
	assert_int_equal(n_sent, 0);
	/* Ready again: sent, and a later timeout waits the full time again. */
	com1_ready = true;
	log_printf("ok\n");
	assert_string_equal(sent, "ok\r\n");
	com1_ready = false;
	lsr_reads = 0;
	log_printf("z");
	assert_int_equal(lsr_reads, first);
	assert_string_equal(sent, "ok\r\n");
}

static void
test_limit_burst(void **state)
{
	static struct log_limit l;
	char want[256] = "";

	(void)state;
	/* A zero-initialised limit lets a burst through even at TSC 0. */
	for (int i = 0; i < LOG_LIMIT_BURST; i++) {
		log_limited(&l, "line %d\n", i);
		log_snprintf(want + strlen(want), sizeof(want) - strlen(want), "line %d\r\n", i);
		tsc += 1000;
	}
	assert_string_equal(sent, want);
	/* The rest of the window is dropped, whatever the text. */
	for (int i = 0; i < 25; i++)
		log_limited(&l, "more %d\n", i);
	assert_string_equal(sent, want);
	assert_int_equal(l.suppressed, 25);
}

static void
test_limit_window(void **state)
{
	static struct log_limit l;

	(void)state;
	tsc = 5000000;
	for (int i = 0; i < LOG_LIMIT_BURST + 3; i++)
		log_limited(&l, "x\n");
	/* Still the same window one tick before its end. */
	tsc += LOG_LIMIT_TICKS - 1;
	log_limited(&l, "x\n");
	assert_int_equal(n_sent, 3 * LOG_LIMIT_BURST);
	/* The next window reports the count with its first line. */
	tsc++;
	n_sent = 0;
	log_limited(&l, "next %u\n", 1u);
	assert_string_equal(sent, "(4 similar lines suppressed)\r\nnext 1\r\n");
	/* The rest of its burst has no note; past it, a new count starts. */
	n_sent = 0;
	for (int i = 1; i < LOG_LIMIT_BURST + 2; i++)
		log_limited(&l, "y\n");
	assert_int_equal(n_sent, 3 * (LOG_LIMIT_BURST - 1));
	tsc += LOG_LIMIT_TICKS;
	n_sent = 0;
	log_limited(&l, "z\n");
	assert_string_equal(sent, "(2 similar lines suppressed)\r\nz\r\n");
	/* A window with nothing dropped gives no note. */
	tsc += LOG_LIMIT_TICKS;
	n_sent = 0;
	log_limited(&l, "w\n");
	assert_string_equal(sent, "w\r\n");
}

static void
test_limit_per_site(void **state)
{
	static struct log_limit a, b;

	(void)state;
	for (int i = 0; i < LOG_LIMIT_BURST + 1; i++)
		log_limited(&a, "a\n");
	n_sent = 0;
	log_limited(&b, "b\n");
	assert_string_equal(sent, "b\r\n");
	assert_int_equal(a.suppressed, 1);
	assert_int_equal(b.suppressed, 0);
}

static void
test_limit_tsc_backwards(void **state)
{
	static struct log_limit l;

	(void)state;
	tsc = 1ull << 40;
	for (int i = 0; i < LOG_LIMIT_BURST; i++)
		log_limited(&l, "x\n");
	/* A CPU whose TSC is behind gets no new burst... */
	tsc = 7;
	n_sent = 0;
	log_limited(&l, "behind\n");
	tsc += LOG_LIMIT_TICKS - 1;
	log_limited(&l, "behind\n");
	assert_int_equal(n_sent, 0);
	/* ...and the site is not silenced until the TSC catches up. */
	tsc++;
	log_limited(&l, "again\n");
	assert_string_equal(sent, "(2 similar lines suppressed)\r\nagain\r\n");
}

static void
test_limit_never_ready(void **state)
{
	static struct log_limit l;

	(void)state;
	/* Lines let through on a dead COM1 still return; the limit counts them as printed. */
	com1_ready = false;
	for (int i = 0; i < LOG_LIMIT_BURST + 1; i++)
		log_limited(&l, "lost\n");
	assert_int_equal(n_sent, 0);
	assert_int_equal(l.printed, LOG_LIMIT_BURST);
	assert_int_equal(l.suppressed, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_plain, reset),
		cmocka_unit_test_setup(test_strings_chars, reset),
		cmocka_unit_test_setup(test_signed, reset),
		cmocka_unit_test_setup(test_unsigned_hex, reset),
		cmocka_unit_test_setup(test_pointer, reset),
		cmocka_unit_test_setup(test_width, reset),
		cmocka_unit_test_setup(test_truncation, reset),
		cmocka_unit_test_setup(test_truncation_no_overrun, reset),
		cmocka_unit_test_setup(test_va_list, reset),
		cmocka_unit_test_setup(test_malformed, reset),
		cmocka_unit_test_setup(test_com1_lines, com1_reset),
		cmocka_unit_test_setup(test_com1_never_ready, com1_reset),
		cmocka_unit_test_setup(test_limit_burst, com1_reset),
		cmocka_unit_test_setup(test_limit_window, com1_reset),
		cmocka_unit_test_setup(test_limit_per_site, com1_reset),
		cmocka_unit_test_setup(test_limit_tsc_backwards, com1_reset),
		cmocka_unit_test_setup(test_limit_never_ready, com1_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
