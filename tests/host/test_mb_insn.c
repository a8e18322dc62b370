/*
 * The Multiboot VMM's MOV decoder (examples/mbvmm/mb_insn.c): the forms test
 * kernels use on MMIO, as the assemblers encode them, in each CPU mode, and
 * what it must refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "examples/mbvmm/mb_insn.h"

struct want {
	const char *what;
	enum mb_cpu_mode mode;
	uint8_t bytes[15];
	unsigned n;
	bool write, imm, high8, zext;
	unsigned size, reg, reg_size, len;
	uint64_t value;
};

static const struct want cases[] = {
	{ "mov eax, [abs32]", MB_MODE32, { 0x8b, 0x05, 0xb0, 0x00, 0xe0, 0xfe }, 6,
	  false, false, false, false, 4, 0, 4, 6, 0 },
	{ "mov [abs32], ecx", MB_MODE32, { 0x89, 0x0d, 0x10, 0x03, 0xe0, 0xfe }, 6,
	  true, false, false, false, 4, 1, 4, 6, 0 },
	{ "mov dword [abs32], imm32", MB_MODE32, { 0xc7, 0x05, 0xb0, 0x00, 0xe0, 0xfe, 0x78, 0x56, 0x34, 0x12 }, 10,
	  true, true, false, false, 4, 0, 0, 10, 0x12345678 },
	{ "mov eax, [esp + 8]", MB_MODE32, { 0x8b, 0x44, 0x24, 0x08 }, 4, false, false, false, false, 4, 0, 4, 4, 0 },
	{ "mov eax, [eax + 0x100]", MB_MODE32, { 0x8b, 0x80, 0x00, 0x01, 0x00, 0x00 }, 6,
	  false, false, false, false, 4, 0, 4, 6, 0 },
	{ "mov [ebx], ax", MB_MODE32, { 0x66, 0x89, 0x03 }, 3, true, false, false, false, 2, 0, 2, 3, 0 },
	{ "mov [abs32], ah", MB_MODE32, { 0x88, 0x25, 0x00, 0x00, 0xe0, 0xfe }, 6,
	  true, false, true, false, 1, 0, 1, 6, 0 },
	{ "mov eax, [moffs32]", MB_MODE32, { 0xa1, 0x20, 0x00, 0xe0, 0xfe }, 5, false, false, false, false, 4, 0, 4, 5, 0 },
	{ "movabs eax, [moffs64]", MB_MODE64, { 0xa1, 0x20, 0x00, 0xe0, 0xfe, 0, 0, 0, 0 }, 9,
	  false, false, false, false, 4, 0, 4, 9, 0 },
	{ "movabs [moffs64], rax", MB_MODE64, { 0x48, 0xa3, 0x20, 0x00, 0xe0, 0xfe, 0, 0, 0, 0 }, 10,
	  true, false, false, false, 8, 0, 8, 10, 0 },
	{ "mov r8d, [abs32] (SIB)", MB_MODE64, { 0x44, 0x8b, 0x04, 0x25, 0x20, 0x00, 0xe0, 0xfe }, 8,
	  false, false, false, false, 4, 8, 4, 8, 0 },
	{ "mov [rip + d], spl", MB_MODE64, { 0x40, 0x88, 0x25, 1, 2, 3, 4 }, 7, true, false, false, false, 1, 4, 1, 7, 0 },
	{ "mov qword [rax], -1", MB_MODE64, { 0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff }, 7,
	  true, true, false, false, 8, 0, 0, 7, ~0ull },
	{ "movzx eax, byte [rip + d]", MB_MODE64, { 0x0f, 0xb6, 0x05, 1, 2, 3, 4 }, 7,
	  false, false, false, true, 1, 0, 4, 7, 0 },
	{ "mov ax, [0xb0] (16-bit)", MB_MODE16, { 0x8b, 0x06, 0xb0, 0x00 }, 4, false, false, false, false, 2, 0, 2, 4, 0 },
	{ "mov eax, [moffs16] (16-bit, 66)", MB_MODE16, { 0x66, 0xa1, 0xb0, 0x00 }, 4,
	  false, false, false, false, 4, 0, 4, 4, 0 },
	{ "mov [fs:abs32], edx", MB_MODE32, { 0x64, 0x89, 0x15, 0, 0, 0xe0, 0xfe }, 7,
	  true, false, false, false, 4, 2, 4, 7, 0 },
};

static void test_forms(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct want *w = &cases[i];
		struct mb_mov m;

		print_message("%s\n", w->what);
		assert_true(mb_decode_mov(w->bytes, w->n, w->mode, &m));
		assert_int_equal(m.write, w->write);
		assert_int_equal(m.imm, w->imm);
		assert_int_equal(m.size, w->size);
		assert_int_equal(m.len, w->len);
		assert_int_equal(m.zero_extend, w->zext);
		if (w->imm) {
			assert_int_equal(m.value, w->value);
		} else {
			assert_int_equal(m.reg, w->reg);
			assert_int_equal(m.high8, w->high8);
			assert_int_equal(m.reg_size, w->reg_size);
		}
		/* One byte short is never a valid decode. */
		assert_false(mb_decode_mov(w->bytes, w->n - 1, w->mode, &m));
	}
}

static void test_refused(void **state)
{
	static const uint8_t reg_reg[] = { 0x8b, 0xc0 }, c7_1[] = { 0xc7, 0xc8, 0, 0, 0, 0 }, nop[] = { 0x90 },
			     movsx[] = { 0x0f, 0xbe, 0x00 }, prefixes[15] = { [0 ... 14] = 0x66 };
	struct mb_mov m;

	(void)state;
	assert_false(mb_decode_mov(reg_reg, sizeof(reg_reg), MB_MODE32, &m));
	assert_false(mb_decode_mov(c7_1, sizeof(c7_1), MB_MODE32, &m));
	assert_false(mb_decode_mov(nop, sizeof(nop), MB_MODE64, &m));
	assert_false(mb_decode_mov(movsx, sizeof(movsx), MB_MODE64, &m));
	assert_false(mb_decode_mov(prefixes, sizeof(prefixes), MB_MODE64, &m));
	assert_false(mb_decode_mov(nop, 0, MB_MODE64, &m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
