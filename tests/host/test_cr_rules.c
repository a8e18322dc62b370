/*
 * MOV to CR0/CR4 as the bare CPU checks it (kernel/cr_rules.c): every refusal the
 * SDM lists, and the ordinary writes an OS makes, from real mode to IA-32e mode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "kernel/cpu.h"
#include "kernel/cr_rules.h"

#define ALLOWED		0xffffffull	/* what a CPU's CR4_FIXED1 might allow */
#define LONG_CR0	(CR0_PE | CR0_NE | CR0_WP | CR0_PG | CR0_ET)
#define LONG_CR4	(CR4_PAE | CR4_OSFXSR)
#define LONG_EFER	(EFER_LME | EFER_LMA)

static const struct cr_state real_mode = { .cr0 = CR0_ET | CR0_CD | CR0_NW };
static const struct cr_state long64 = { .cr0 = LONG_CR0, .cr4 = LONG_CR4, .efer = LONG_EFER, .cs_l = true };
static const struct cr_state compat = { .cr0 = LONG_CR0, .cr4 = LONG_CR4, .efer = LONG_EFER };
/* Protected mode without paging, LME set, about to turn paging on. */
static const struct cr_state pre_long = { .cr0 = CR0_PE | CR0_NE | CR0_ET, .cr4 = CR4_PAE,
					  .efer = EFER_LME };

static void test_cr0_basic_rules(void **state)
{
	(void)state;
	assert_true(cr0_write_valid(&real_mode, CR0_PE | CR0_ET));
	assert_false(cr0_write_valid(&real_mode, 1ull << 32));			/* reserved high half */
	assert_false(cr0_write_valid(&real_mode, CR0_PG));			/* PG without PE */
	assert_false(cr0_write_valid(&real_mode, CR0_PE | CR0_NW));		/* NW without CD */
	assert_true(cr0_write_valid(&real_mode, CR0_PE | CR0_NW | CR0_CD));
}

static void test_cr0_entering_long_mode(void **state)
{
	struct cr_state s = pre_long;

	(void)state;
	assert_true(cr0_write_valid(&s, pre_long.cr0 | CR0_PG));
	s.cr4 = 0;								/* the reviewed defect */
	assert_false(cr0_write_valid(&s, pre_long.cr0 | CR0_PG));
	s = pre_long;
	s.cs_l = true;
	assert_false(cr0_write_valid(&s, pre_long.cr0 | CR0_PG));
	s = pre_long;
	s.efer = 0;								/* legacy paging needs no PAE */
	s.cr4 = 0;
	assert_true(cr0_write_valid(&s, pre_long.cr0 | CR0_PG));
}

static void test_cr0_leaving_paging(void **state)
{
	struct cr_state s = compat;

	(void)state;
	assert_false(cr0_write_valid(&long64, LONG_CR0 & ~CR0_PG));		/* from 64-bit code */
	assert_true(cr0_write_valid(&compat, LONG_CR0 & ~CR0_PG));		/* from compatibility mode */
	s.cr4 |= CR4_PCIDE;
	assert_false(cr0_write_valid(&s, LONG_CR0 & ~CR0_PG));
	assert_true(cr0_write_valid(&long64, LONG_CR0 & ~CR0_NE));		/* other bits are free */
}

static void test_cr0_cet_needs_wp(void **state)
{
	struct cr_state s = long64;

	(void)state;
	s.cr4 |= CR4_CET;
	assert_false(cr0_write_valid(&s, LONG_CR0 & ~CR0_WP));
	assert_true(cr0_write_valid(&long64, LONG_CR0 & ~CR0_WP));
}

static void test_cr4_rules(void **state)
{
	struct cr_state s = long64;

	(void)state;
	assert_true(cr4_write_valid(&long64, LONG_CR4 | CR4_OSXSAVE, ALLOWED));
	assert_false(cr4_write_valid(&long64, LONG_CR4 | (1ull << 30), ALLOWED));	/* not allowed */
	assert_false(cr4_write_valid(&long64, LONG_CR4 & ~CR4_PAE, ALLOWED));	/* PAE off in IA-32e */
	assert_false(cr4_write_valid(&long64, LONG_CR4 | CR4_LA57, ALLOWED));	/* depth change */
	assert_true(cr4_write_valid(&real_mode, CR4_LA57, ALLOWED));
	assert_true(cr4_write_valid(&long64, LONG_CR4 | CR4_PCIDE, ALLOWED));
	s.cr3 = 0x1000 | 5;							/* PCID 5 current */
	assert_false(cr4_write_valid(&s, LONG_CR4 | CR4_PCIDE, ALLOWED));
	assert_false(cr4_write_valid(&pre_long, CR4_PAE | CR4_PCIDE, ALLOWED));	/* not IA-32e */
	s = long64;
	s.cr0 &= ~CR0_WP;
	assert_false(cr4_write_valid(&s, LONG_CR4 | CR4_CET, ALLOWED));
	assert_true(cr4_write_valid(&long64, LONG_CR4 | CR4_CET, ALLOWED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cr0_basic_rules),
		cmocka_unit_test(test_cr0_entering_long_mode),
		cmocka_unit_test(test_cr0_leaving_paging),
		cmocka_unit_test(test_cr0_cet_needs_wp),
		cmocka_unit_test(test_cr4_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
