/*
 * The Multiboot VMM's loader (examples/mbvmm/mb_load.c): an ELF32 kernel built
 * here byte by byte, loaded as QEMU's -kernel would, and every way an image
 * or the information block can be refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "examples/mbvmm/mb_load.h"

#define RAM	(16u << 20)
#define LOAD	0x400000u

static uint8_t *ram;
static uint8_t file[8192 + 256];

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/*
 * An image: ELF header, two program headers (text: 64 bytes of file at LOAD,
 * memsz 128; bss: 4096 bytes at LOAD + 0x1000, none in the file), the
 * Multiboot header at header_off.
 */
static size_t image(size_t header_off, uint32_t mb_flags)
{
	uint8_t *ph;

	memset(file, 0, sizeof(file));
	memcpy(file, "\x7f" "ELF\x01\x01\x01", 7);
	put16(file + 16, 2);		/* ET_EXEC */
	put16(file + 18, 3);		/* EM_386 */
	put32(file + 24, LOAD + 0x10);	/* entry */
	put32(file + 28, 52);		/* phoff */
	put16(file + 42, 32);
	put16(file + 44, 2);
	ph = file + 52;
	put32(ph, 1);
	put32(ph + 4, 0x100);
	put32(ph + 12, LOAD);
	put32(ph + 16, 64);
	put32(ph + 20, 128);
	ph += 32;
	put32(ph, 1);
	put32(ph + 12, LOAD + 0x1000);
	put32(ph + 20, 4096);
	for (unsigned i = 0; i < 64; i++)
		file[0x100 + i] = (uint8_t)(0xa0 + i);
	put32(file + header_off, MB_HEADER_MAGIC);
	put32(file + header_off + 4, mb_flags);
	put32(file + header_off + 8, 0u - MB_HEADER_MAGIC - mb_flags);
	return header_off + 12 > 0x140 ? header_off + 12 : 0x140;
}

static int setup(void **state)
{
	(void)state;
	ram = malloc(RAM);
	memset(ram, 0x55, RAM);
	return ram ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static void test_loads_segments(void **state)
{
	struct mb_image img;
	size_t n = image(0x180, 0);

	(void)state;
	assert_null(mb_load(file, n, ram, RAM, &img));
	assert_int_equal(img.entry, LOAD + 0x10);
	assert_int_equal(img.end, LOAD + 0x2000);
	assert_memory_equal(ram + LOAD, file + 0x100, 64);
	for (unsigned i = 64; i < 128; i++)
		assert_int_equal(ram[LOAD + i], 0);		/* memsz past filesz: zeroed */
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(ram[LOAD + 0x1000 + i], 0);	/* BSS */
	assert_int_equal(ram[LOAD + 128], 0x55);		/* nothing else touched */
	/* The header may sit anywhere 4-aligned in the first 8 KiB; flags 0-3 are fine. */
	assert_null(mb_load(file, image(8192 - 12, 3), ram, RAM, &img));
}

static void test_refuses_bad_images(void **state)
{
	struct mb_image img;
	size_t n;

	(void)state;
	n = image(8192, 0);	/* just past the search window */
	assert_string_equal(mb_load(file, n, ram, RAM, &img), "no Multiboot header in the first 8 KiB");
	n = image(0x180, 0);
	put32(file + 0x188, 0);
	assert_string_equal(mb_load(file, n, ram, RAM, &img), "Multiboot header checksum is wrong");
	n = image(0x180, 1u << 16);
	assert_non_null(strstr(mb_load(file, n, ram, RAM, &img), "a.out"));
	n = image(0x180, 0);
	file[4] = 2;		/* ELFCLASS64 */
	assert_non_null(strstr(mb_load(file, n, ram, RAM, &img), "ELF32"));
	n = image(0x180, 0);
	put16(file + 44, 200);	/* program headers past the end */
	assert_non_null(strstr(mb_load(file, n, ram, RAM, &img), "program headers"));
	n = image(0x180, 0);
	put32(file + 52 + 4, 0xfffffff0u);	/* bytes outside the file */
	assert_non_null(strstr(mb_load(file, n, ram, RAM, &img), "outside the file"));
	n = image(0x180, 0);
	put32(file + 52 + 32 + 12, RAM - 100);	/* BSS past the end of RAM */
	assert_non_null(strstr(mb_load(file, n, ram, RAM, &img), "outside guest RAM"));
	n = image(0x180, 0);
	put32(file + 52 + 32 + 12, 0xfffff000u);	/* wraps */
	assert_non_null(strstr(mb_load(file, n, ram, RAM, &img), "outside guest RAM"));
	n = image(0x180, 0);
	put32(file + 52 + 12, MB_INFO_GPA - 64);	/* over the info block */
	assert_non_null(strstr(mb_load(file, n, ram, RAM, &img), "multiboot information"));
	n = image(0x180, 0);
	put32(file + 24, RAM);
	assert_non_null(strstr(mb_load(file, n, ram, RAM, &img), "entry point"));
}

static void test_info_block(void **state)
{
	static const uint8_t env[] = "NR_CPUS=2\n";
	struct mb_image img = { .entry = LOAD, .end = LOAD + 0x1234 };
	uint8_t *info = ram + MB_INFO_GPA, *mods;

	(void)state;
	assert_null(mb_info(ram, RAM, &img, "apic.flat -v", env, sizeof(env) - 1, "env"));
	assert_int_equal(get32(info), MB_INFO_MEM | MB_INFO_CMDLINE | MB_INFO_MODS);
	assert_int_equal(get32(info + 4), 640);
	assert_int_equal(get32(info + 8), (RAM >> 10) - 1024);
	assert_string_equal((const char *)ram + get32(info + 16), "apic.flat -v");
	assert_int_equal(get32(info + 20), 1);
	mods = ram + get32(info + 24);
	assert_int_equal(get32(mods), LOAD + 0x2000);		/* page-aligned after the kernel */
	assert_int_equal(get32(mods + 4), LOAD + 0x2000 + sizeof(env) - 1);
	assert_memory_equal(ram + get32(mods), env, sizeof(env) - 1);
	assert_string_equal((const char *)ram + get32(mods + 8), "env");
	assert_true(get32(info + 16) < 0xa0000 && get32(info + 24) < 0xa0000);
}

static void test_info_refusals(void **state)
{
	static char longline[4096];
	struct mb_image img = { .entry = LOAD, .end = RAM - 16 };

	(void)state;
	assert_non_null(strstr(mb_info(ram, RAM, &img, "k", (const uint8_t *)"X=1", 3, "env"), "no room"));
	img.end = LOAD;
	memset(longline, 'a', sizeof(longline) - 1);
	assert_non_null(strstr(mb_info(ram, RAM, &img, "k", (const uint8_t *)"", 0, longline), "too long"));
	assert_null(mb_info(ram, RAM, &img, longline, (const uint8_t *)"", 0, "env"));	/* room up to 0xa0000 */
	assert_non_null(strstr(mb_info(ram, 1u << 20, &img, "k", (const uint8_t *)"", 0, "env"), "between"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_loads_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
