/*
 * Host tests for the hvmetal.cfg parser.  Every text is copied into a heap
 * buffer of exactly its length, without a NUL, so ASan catches a read past it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "boot/config.h"
#include "vmx/vmx_caps.h"
#include "kernel/string.h"

static struct hv_config cfg;
static char err[128];

static int
reset(void **state)
{
	(void)state;
	memset(&cfg, 0x5a, sizeof(cfg));
	config_defaults(&cfg);
	memset(err, 0x7f, sizeof(err));
	return 0;
}

/* Parses the first len bytes of text, from a buffer holding nothing else. */
static const char *
parse_n(const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);
	const char *r;

	assert_non_null(copy);
	memcpy(copy, text, len);
	r = config_parse(&cfg, copy, len, err, sizeof(err));
	free(copy);
	return r;
}

static const char *
parse(const char *text)
{
	return parse_n(text, strlen(text));
}

static void
expect_ok(const char *text)
{
	const char *r = parse(text);

	if (r)
		fail_msg("unexpected error for \"%s\": %s", text, r);
}

/* One error, on line 'line', mentioning 'what'. */
static void
expect_error(const char *text, unsigned line, const char *what)
{
	char want[32];
	const char *r = parse(text);

	if (!r)
		fail_msg("no error for \"%s\"", text);
	assert_ptr_equal(r, err);
	assert_non_null(memchr(err, 0, sizeof(err)));
	assert_null(strchr(err, '\n'));
	snprintf(want, sizeof(want), "line %u:", line);
	if (!strstr(err, want) || !strstr(err, what))
		fail_msg("error \"%s\": want \"%s\" and \"%s\"", err, want, what);
}

static void
test_defaults(void **state)
{
	(void)state;
	assert_string_equal(cfg.next, CONFIG_DEFAULT_NEXT);
	assert_string_equal(cfg.next, "\\EFI\\hvmetal\\hvtest.efi");
	assert_int_equal(cfg.pool_mib, CONFIG_DEFAULT_POOL_MIB);
	assert_int_equal(cfg.pool_mib, 32);
	/* Empty and comment-only files leave them alone. */
	expect_ok("");
	expect_ok("\n\n   \n\t\n");
	expect_ok("# nothing here\n  # indented comment\n#\n");
	assert_string_equal(cfg.next, CONFIG_DEFAULT_NEXT);
	assert_int_equal(cfg.pool_mib, 32);
	/* err is only written when there is an error. */
	assert_int_equal((unsigned char)err[0], 0x7f);
}

static void
test_next(void **state)
{
	(void)state;
	expect_ok("next = \\EFI\\linux\\grubx64.efi\n");
	assert_string_equal(cfg.next, "\\EFI\\linux\\grubx64.efi");
	assert_int_equal(cfg.pool_mib, 32);
	expect_ok("next=\\a.efi");
	assert_string_equal(cfg.next, "\\a.efi");
	/* Inner blanks are part of the path; outer ones are not. */
	expect_ok("next \t=\t  \\EFI\\My Loader.efi  \t\n");
	assert_string_equal(cfg.next, "\\EFI\\My Loader.efi");
	/* The last assignment wins. */
	expect_ok("next = \\one.efi\nnext = \\two.efi\n");
	assert_string_equal(cfg.next, "\\two.efi");
}

static void
test_next_none(void **state)
{
	(void)state;
	expect_ok("next = none\n");
	assert_string_equal(cfg.next, "");
	reset(NULL);
	expect_ok("next=none");
	assert_string_equal(cfg.next, "");
	reset(NULL);
	expect_ok("next = none  # stay in the shell\r\n");
	assert_string_equal(cfg.next, "");
	/* Only the whole word. */
	expect_ok("next = nonesuch.efi\n");
	assert_string_equal(cfg.next, "nonesuch.efi");
	expect_ok("next = non\n");
	assert_string_equal(cfg.next, "non");
}

static void
test_next_too_long(void **state)
{
	char text[CONFIG_PATH_MAX + 32];
	size_t pre = strlen("next = ");

	(void)state;
	/* CONFIG_PATH_MAX - 1 characters fit with their NUL. */
	memcpy(text, "next = ", pre);
	memset(text + pre, 'p', CONFIG_PATH_MAX - 1);
	text[pre + CONFIG_PATH_MAX - 1] = 0;
	expect_ok(text);
	assert_int_equal(strlen(cfg.next), CONFIG_PATH_MAX - 1);
	assert_int_equal(cfg.next[0], 'p');

	/* One more is refused and leaves the previous value. */
	reset(NULL);
	memset(text + pre, 'q', CONFIG_PATH_MAX);
	strcpy(text + pre + CONFIG_PATH_MAX, "\npool_mib = 8\n");
	expect_error(text, 1, "too long");
	assert_string_equal(cfg.next, CONFIG_DEFAULT_NEXT);
	assert_int_equal(cfg.pool_mib, 8);
}

/* The next image's LoadOptions, e.g. a Linux command line. */
static void
test_next_args(void **state)
{
	(void)state;
	assert_string_equal(cfg.next_args, "");
	expect_ok("next_args = console=ttyS0,115200 initrd=\\EFI\\linux\\initrd.gz rdinit=/init\r\n");
	assert_string_equal(cfg.next_args, "console=ttyS0,115200 initrd=\\EFI\\linux\\initrd.gz rdinit=/init");
	assert_string_equal(cfg.next, CONFIG_DEFAULT_NEXT);
	/* Inner blanks and quotes stay; '#' ends the value; the key is matched whole. */
	expect_ok("next_args=  a=\"b c\"  d  # comment\n");
	assert_string_equal(cfg.next_args, "a=\"b c\"  d");
	expect_ok("next = \\EFI\\linux\\vmlinuz.efi\n");
	assert_string_equal(cfg.next_args, "a=\"b c\"  d");
	/* An empty value: no options. */
	expect_ok("next_args =\n");
	assert_string_equal(cfg.next_args, "");
	expect_ok("next_args = x\nnext_args = y z\n");
	assert_string_equal(cfg.next_args, "y z");
	expect_error("next_arg = x\n", 1, "unknown key");
	expect_error("next_argss = x\n", 1, "unknown key");
}

static void
test_next_args_too_long(void **state)
{
	char text[CONFIG_ARGS_MAX + 32];
	size_t pre = strlen("next_args = ");

	(void)state;
	assert_int_equal(CONFIG_ARGS_MAX, 512);
	memcpy(text, "next_args = ", pre);
	memset(text + pre, 'a', CONFIG_ARGS_MAX - 1);
	text[pre + CONFIG_ARGS_MAX - 1] = 0;
	expect_ok(text);
	assert_int_equal(strlen(cfg.next_args), CONFIG_ARGS_MAX - 1);
	/* One more is refused, says the limit, and keeps the previous value. */
	memset(text + pre, 'b', CONFIG_ARGS_MAX);
	strcpy(text + pre + CONFIG_ARGS_MAX, "\npool_mib = 8\n");
	expect_error(text, 1, "next_args: too long (at most 511 characters)");
	assert_int_equal(strlen(cfg.next_args), CONFIG_ARGS_MAX - 1);
	assert_int_equal(cfg.next_args[0], 'a');
	assert_int_equal(cfg.pool_mib, 8);
}

static void
test_next_args_characters(void **state)
{
	static const char *const bad[] = {
		"next_args = a\tb\n", "next_args = a\001b\n", "next_args = a\177\n",
		"next_args = caf\303\251\n", "next_args = \200\n", "next_args = a\rb\n",
	};

	(void)state;
	expect_ok("next_args = keep\n");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_error(bad[i], 1, "next_args: only printable ASCII characters");
		assert_string_equal(cfg.next_args, "keep");
	}
	/* Every printable character but '#' (a comment) is taken. */
	expect_ok("next_args = !\"$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~\n");
	assert_string_equal(cfg.next_args, "!\"$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~");
}

static void
test_pool_mib_valid(void **state)
{
	(void)state;
	expect_ok("pool_mib = 64\n");
	assert_int_equal(cfg.pool_mib, 64);
	expect_ok("pool_mib=4");
	assert_int_equal(cfg.pool_mib, CONFIG_MIN_POOL_MIB);
	expect_ok("pool_mib = 4096");
	assert_int_equal(cfg.pool_mib, CONFIG_MAX_POOL_MIB);
	/* Leading zeros, up to five digits. */
	expect_ok("pool_mib = 00128\n");
	assert_int_equal(cfg.pool_mib, 128);
	assert_string_equal(cfg.next, CONFIG_DEFAULT_NEXT);
}

static void
test_pool_mib_out_of_range(void **state)
{
	(void)state;
	expect_error("pool_mib = 3\n", 1, "out of range");
	expect_error("pool_mib = 0\n", 1, "out of range");
	expect_error("pool_mib = 4097\n", 1, "out of range");
	expect_error("pool_mib = 99999\n", 1, "out of range");
	assert_int_equal(cfg.pool_mib, 32);
}

static void
test_pool_mib_not_a_number(void **state)
{
	static const char *const bad[] = {
		"pool_mib = abc\n", "pool_mib = 12x\n", "pool_mib = -8\n",
		"pool_mib = +8\n", "pool_mib = 0x10\n", "pool_mib = 1 6\n",
		"pool_mib =\n", "pool_mib = \n", "pool_mib = # none\n",
		/* Too long, however small the number. */
		"pool_mib = 000016\n", "pool_mib = 4294967312\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_error(bad[i], 1, "pool_mib");
		assert_int_equal(cfg.pool_mib, 32);
	}
	/* 2^32 + 16 would wrap to a valid 16 if digits were accepted. */
	assert_null(strstr(err, "out of range"));
}

/* Issue 9, defect 8: a limit on the CPUs hvmetal will start on (it refuses more). */
static void
test_max_cpus(void **state)
{
	(void)state;
	assert_int_equal(cfg.max_cpus, CONFIG_MAX_CPUS);
	expect_ok("max_cpus = 2\n");
	assert_int_equal(cfg.max_cpus, 2);
	expect_ok("max_cpus = 64\n");
	assert_int_equal(cfg.max_cpus, 64);
	expect_error("max_cpus = 0\n", 1, "out of range");
	expect_error("max_cpus = 65\n", 1, "out of range");
	expect_error("max_cpus = two\n", 1, "max_cpus");
	assert_int_equal(cfg.max_cpus, 64);
}

/* Features to act as if the CPU lacked, for testing the paths other CPUs take. */
static void
test_vmx_hide(void **state)
{
	(void)state;
	assert_int_equal(cfg.vmx_hide, 0);
	expect_ok("vmx_hide = vpid\n");
	assert_int_equal(cfg.vmx_hide, VMX_HIDE_VPID);
	expect_ok("vmx_hide =  ept_1g\tvpid  apic_access apicv\n");
	assert_int_equal(cfg.vmx_hide, VMX_HIDE_VPID | VMX_HIDE_EPT_1G | VMX_HIDE_APIC_ACCESS | VMX_HIDE_APICV);
	expect_ok("vmx_hide =\n");
	assert_int_equal(cfg.vmx_hide, 0);
	/* One unknown name refuses the whole line: nothing half applied. */
	expect_ok("vmx_hide = vpid\n");
	expect_error("vmx_hide = ept_1g ept_2m\n", 1, "vmx_hide: expected");
	assert_int_equal(cfg.vmx_hide, VMX_HIDE_VPID);
	expect_error("vmx_hide = vpidx\n", 1, "vmx_hide");
	expect_error("vmx_hide = vpid,ept_1g\n", 1, "vmx_hide");
	assert_int_equal(cfg.vmx_hide, VMX_HIDE_VPID);
}

static void
test_comments_blanks_crlf(void **state)
{
	(void)state;
	expect_ok("# hvmetal.cfg\r\n"
		  "\r\n"
		  "   \t\r\n"
		  "pool_mib = 16   # MiB\r\n"
		  "  next\t=\t\\EFI\\x.efi\r\n"
		  "# pool_mib = 8\r\n");
	assert_int_equal(cfg.pool_mib, 16);
	/* No '\r' left at the end of a CRLF value. */
	assert_string_equal(cfg.next, "\\EFI\\x.efi");
	/* '#' ends a value too. */
	expect_ok("next = \\a#b.efi\n");
	assert_string_equal(cfg.next, "\\a");
	/* A final line without a newline still counts. */
	expect_ok("\n\npool_mib=12");
	assert_int_equal(cfg.pool_mib, 12);
}

static void
test_unknown_key(void **state)
{
	(void)state;
	expect_error("pool_mib = 8\n"
		     "colour = blue\n"
		     "next = \\later.efi\n"
		     "pool_mib = 20\n", 2, "unknown key");
	/* Lines before and after the bad one both applied. */
	assert_int_equal(cfg.pool_mib, 20);
	assert_string_equal(cfg.next, "\\later.efi");
	/* Keys are matched whole. */
	expect_error("pool = 8\n", 1, "unknown key");
	expect_error("pool_mibs = 8\n", 1, "unknown key");
	expect_error("nex = x\n", 1, "unknown key");
	expect_error("= 8\n", 1, "unknown key");
	assert_int_equal(cfg.pool_mib, 20);
}

static void
test_missing_equals(void **state)
{
	(void)state;
	/* Blank and comment lines count towards the line number. */
	expect_error("# comment\n"
		     "\n"
		     "pool_mib 8\n"
		     "next = \\after.efi\n", 3, "key = value");
	assert_int_equal(cfg.pool_mib, 32);
	assert_string_equal(cfg.next, "\\after.efi");
	expect_error("next\r\n", 1, "key = value");
	/* The '=' is after the comment mark: not there. */
	expect_error("next # = x\n", 1, "key = value");
}

static void
test_first_error_wins(void **state)
{
	(void)state;
	expect_error("next = \\ok.efi\n"
		     "pool_mib = 1\n"
		     "bogus\n"
		     "what = ever\n"
		     "pool_mib = 48\n", 2, "out of range");
	assert_null(strstr(err, "line 3"));
	assert_null(strstr(err, "line 4"));
	assert_int_equal(cfg.pool_mib, 48);
	assert_string_equal(cfg.next, "\\ok.efi");
	/* Line numbers past 9. */
	expect_error("\n\n\n\n\n\n\n\n\n\n\nxyz = 1\n", 12, "unknown key");
}

static void
test_length_bounds(void **state)
{
	const char *text = "pool_mib = 16\nnext = \\x.efi\n";

	(void)state;
	/* Only len bytes are parsed: "pool_mib = 1" is out of range. */
	assert_ptr_equal(parse_n(text, strlen("pool_mib = 1")), err);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(cfg.pool_mib, 32);
	/* Through "next = \x": the path is cut there too. */
	assert_null(parse_n(text, strlen("pool_mib = 16\nnext = \\x")));
	assert_int_equal(cfg.pool_mib, 16);
	assert_string_equal(cfg.next, "\\x");
	assert_null(parse_n(text, 0));
}

static void
test_small_err_buffer(void **state)
{
	char small[12];
	const char *r;

	(void)state;
	memset(small, 0x7f, sizeof(small));
	r = config_parse(&cfg, "bad\n", 4, small, sizeof(small));
	assert_ptr_equal(r, small);
	/* Truncated, still a string. */
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "hvmetal.cfg", sizeof(small) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, reset),
		cmocka_unit_test_setup(test_next, reset),
		cmocka_unit_test_setup(test_next_none, reset),
		cmocka_unit_test_setup(test_next_too_long, reset),
		cmocka_unit_test_setup(test_next_args, reset),
		cmocka_unit_test_setup(test_next_args_too_long, reset),
		cmocka_unit_test_setup(test_next_args_characters, reset),
		cmocka_unit_test_setup(test_pool_mib_valid, reset),
		cmocka_unit_test_setup(test_pool_mib_out_of_range, reset),
		cmocka_unit_test_setup(test_pool_mib_not_a_number, reset),
		cmocka_unit_test_setup(test_comments_blanks_crlf, reset),
		cmocka_unit_test_setup(test_unknown_key, reset),
		cmocka_unit_test_setup(test_missing_equals, reset),
		cmocka_unit_test_setup(test_first_error_wins, reset),
		cmocka_unit_test_setup(test_length_bounds, reset),
		cmocka_unit_test_setup(test_small_err_buffer, reset),
		cmocka_unit_test_setup(test_max_cpus, reset),
cmocka_unit_test_setup(test_vmx_hide, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
