/*
 * The Multiboot VMM's small devices (examples/mbvmm/): the 16550 with its
 * divisor latch, fw_cfg's signature and CPU count, and the ACPI tables a
 * kernel walks to the PM timer (RSDP -> RSDT -> FACP, checksums).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "examples/mbvmm/acpi_tables.h"
#include "examples/mbvmm/fw_cfg.h"
#include "examples/mbvmm/uart16550.h"

static char out[64];
static unsigned nout;

static void collect(void *ctx, char c)
{
	(void)ctx;
	if (nout < sizeof(out) - 1)
		out[nout++] = c;
}

static void test_uart(void **state)
{
	struct uart16550 u;

	(void)state;
	nout = 0;
	memset(out, 0, sizeof(out));
	uart_init(&u, collect, NULL);
	/* A kernel's init: DLAB, divisor 1 (115200), 8N1, FIFO, then text. */
	uart_write(&u, 3, 0x80);
	uart_write(&u, 0, 0x01);
	uart_write(&u, 1, 0x00);
	assert_int_equal(uart_read(&u, 0), 1);
	uart_write(&u, 3, 0x03);
	uart_write(&u, 2, 0xc7);
	uart_write(&u, 4, 0x0b);
	assert_int_equal(uart_read(&u, 5) & 0x20, 0x20);	/* THRE: ready */
	uart_write(&u, 0, 'o');
	uart_write(&u, 0, 'k');
	assert_string_equal(out, "ok");				/* the divisor byte is not output */
	assert_int_equal(uart_read(&u, 3), 0x03);
	assert_int_equal(uart_read(&u, 4), 0x0b);
	uart_write(&u, 7, 0x5a);
	assert_int_equal(uart_read(&u, 7), 0x5a);
	assert_int_equal(uart_read(&u, 2) & 1, 1);		/* no interrupt pending */
	uart_write(&u, 1, 0xff);
	assert_int_equal(uart_read(&u, 1), 0x0f);
	assert_int_equal(uart_read(&u, 8), 0xff);
}

static void test_fw_cfg(void **state)
{
	struct fw_cfg f;
	char sig[5] = { 0 };

	(void)state;
	fw_cfg_init(&f, 3);
	fw_cfg_select(&f, FW_CFG_SIGNATURE);
	for (int i = 0; i < 4; i++)
		sig[i] = (char)fw_cfg_read(&f);
	assert_string_equal(sig, "QEMU");
	fw_cfg_select(&f, FW_CFG_NB_CPUS);
	assert_int_equal(fw_cfg_read(&f), 3);
	assert_int_equal(fw_cfg_read(&f), 0);
	assert_int_equal(fw_cfg_read(&f), 0);
	fw_cfg_select(&f, FW_CFG_NB_CPUS);	/* selecting again starts over */
	assert_int_equal(fw_cfg_read(&f), 3);
	fw_cfg_select(&f, 0x19);
	assert_int_equal(fw_cfg_read(&f), 0);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void test_acpi(void **state)
{
	size_t size = 1u << 20;
	uint8_t *ram = calloc(1, size), *rsdp = NULL, *rsdt, *facp;

	(void)state;
	assert_int_equal(acpi_tables_build(ram, size), 0);
	/* As a kernel finds it: "RSD PTR " on a 16-byte boundary in 0xe0000-0xfffff. */
	for (size_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp(ram + a, "RSD PTR ", 8)) {
			rsdp = ram + a;
			break;
		}
	assert_non_null(rsdp);
	assert_int_equal(sum(rsdp, 20), 0);
	rsdt = ram + get32(rsdp + 16);
	assert_memory_equal(rsdt, "RSDT", 4);
	assert_int_equal(sum(rsdt, get32(rsdt + 4)), 0);
	facp = ram + get32(rsdt + 36);
	assert_memory_equal(facp, "FACP", 4);
	assert_int_equal(sum(facp, get32(facp + 4)), 0);
	assert_int_equal(get32(facp + 76), ACPI_PM_TIMER_PORT);
	assert_int_equal(acpi_tables_build(ram, 0xe0000), -1);
	free(ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uart),
		cmocka_unit_test(test_fw_cfg),
		cmocka_unit_test(test_acpi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
