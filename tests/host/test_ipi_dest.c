/*
 * IPI destinations (apic/ipi_dest.c): before issue 9 hvmetal matched only physical
 * destinations, so a logical INIT/SIPI went past it to the hardware.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "apic/ipi_dest.h"

#define LOGICAL		(1u << 11)
#define SELF		(1u << 18)
#define ALL		(2u << 18)
#define OTHERS		(3u << 18)
#define INIT		(5u << 8)
#define FLAT		0xffffffffu
#define CLUSTER		0x0fffffffu

static struct ipi_target cpu(uint32_t id, uint32_t logical, uint32_t dfr, bool self)
{
	return (struct ipi_target){ .apic_id = id, .ldr = logical << 24, .dfr = dfr, .self = self };
}

static void test_shorthands(void **state)
{
	struct ipi_target me = cpu(0, 1, FLAT, true), other = cpu(1, 2, FLAT, false);

	(void)state;
	assert_true(ipi_dest_hits(INIT | ALL, 0, false, &me));
	assert_true(ipi_dest_hits(INIT | ALL, 0, false, &other));
	assert_false(ipi_dest_hits(INIT | OTHERS, 0, false, &me));
	assert_true(ipi_dest_hits(INIT | OTHERS, 0, false, &other));
	assert_true(ipi_dest_hits(INIT | SELF, 5, false, &me));
	assert_false(ipi_dest_hits(INIT | SELF, 5, false, &other));
}

static void test_physical(void **state)
{
	struct ipi_target t = cpu(0x103, 0, FLAT, false);

	(void)state;
	assert_true(ipi_dest_hits(INIT, 0x03, false, &t));		/* xAPIC: the ID's low 8 bits */
	assert_false(ipi_dest_hits(INIT, 0x04, false, &t));
	assert_true(ipi_dest_hits(INIT, 0xff, false, &t));		/* xAPIC broadcast */
	assert_true(ipi_dest_hits(INIT, 0x103, true, &t));
	assert_false(ipi_dest_hits(INIT, 0x03, true, &t));
	assert_true(ipi_dest_hits(INIT, 0xffffffffu, true, &t));	/* x2APIC broadcast */
}

static void test_xapic_flat(void **state)
{
	struct ipi_target t = cpu(1, 0x02, FLAT, false);

	(void)state;
	assert_true(ipi_dest_hits(INIT | LOGICAL, 0x02, false, &t));
	assert_true(ipi_dest_hits(INIT | LOGICAL, 0x0e, false, &t));	/* a set including it */
	assert_false(ipi_dest_hits(INIT | LOGICAL, 0x01, false, &t));
	assert_true(ipi_dest_hits(INIT | LOGICAL, 0xff, false, &t));
	t.ldr = 0;							/* not given a logical ID yet */
	assert_false(ipi_dest_hits(INIT | LOGICAL, 0x0f, false, &t));
}

static void test_xapic_cluster(void **state)
{
	struct ipi_target t = cpu(5, 0x24, CLUSTER, false);		/* cluster 2, member bit 2 */

	(void)state;
	assert_true(ipi_dest_hits(INIT | LOGICAL, 0x24, false, &t));
	assert_true(ipi_dest_hits(INIT | LOGICAL, 0x2c, false, &t));
	assert_false(ipi_dest_hits(INIT | LOGICAL, 0x14, false, &t));	/* other cluster */
	assert_false(ipi_dest_hits(INIT | LOGICAL, 0x21, false, &t));	/* other member */
	assert_true(ipi_dest_hits(INIT | LOGICAL, 0xff, false, &t));
}

static void test_x2apic_cluster(void **state)
{
	struct ipi_target t = cpu(0x23, 0, FLAT, false);		/* cluster 2, bit 3 */

	(void)state;
	t.x2apic = true;
	assert_true(ipi_dest_hits(INIT | LOGICAL, (2u << 16) | (1u << 3), true, &t));
	assert_true(ipi_dest_hits(INIT | LOGICAL, (2u << 16) | 0xffff, true, &t));
	assert_false(ipi_dest_hits(INIT | LOGICAL, (1u << 16) | (1u << 3), true, &t));
	assert_false(ipi_dest_hits(INIT | LOGICAL, (2u << 16) | (1u << 4), true, &t));
	assert_true(ipi_dest_hits(INIT | LOGICAL, 0xffffffffu, true, &t));
}

/*
 * A device's 8-bit logical destination (IOAPIC, MSI) to x2APIC targets: cluster
 * 0, as KVM reads it (kvm-unit-tests ioapic.c, logical destination mode, hung
 * before: the x2APIC LDR was read as an xAPIC one).
 */
static void test_x2apic_from_device(void **state)
{
	struct ipi_target t0 = cpu(0, 0, FLAT, false), t1 = cpu(1, 0, FLAT, false), t17 = cpu(17, 0, FLAT, false);

	(void)state;
	t0.x2apic = t1.x2apic = t17.x2apic = true;
	t0.ldr = 1u;							/* x2APIC LDR: cluster 0, bit 0 */
	assert_true(ipi_dest_hits(LOGICAL, 0x0d, false, &t0));
	assert_false(ipi_dest_hits(LOGICAL, 0x0d, false, &t1));
	assert_true(ipi_dest_hits(LOGICAL, 0x02, false, &t1));
	assert_false(ipi_dest_hits(LOGICAL, 0x02, false, &t17));	/* cluster 1: no 8-bit name */
	assert_true(ipi_dest_hits(LOGICAL, 0xff, false, &t17));		/* broadcast */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shorthands),
		cmocka_unit_test(test_physical),
		cmocka_unit_test(test_xapic_flat),
		cmocka_unit_test(test_xapic_cluster),
		cmocka_unit_test(test_x2apic_cluster),
		cmocka_unit_test(test_x2apic_from_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
