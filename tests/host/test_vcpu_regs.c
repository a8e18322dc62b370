/* The register map: every hv_x86_reg_t lands where hvmetal keeps that register. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <Hypervisor/hv_arch_x86.h>
#include "kernel/panic.h"
#include "vm/vcpu_regs.h"
#include "vmx/vmx_bits.h"

#define SLOT(name)	(offsetof(struct gpr_frame, name) / 8)

static struct reg_loc loc(uint32_t reg)
{
	struct reg_loc l;

	assert_true(vcpu_reg_loc(reg, &l));
	return l;
}

static void expect_gpr(uint32_t reg, unsigned slot)
{
	struct reg_loc l = loc(reg);

	assert_int_equal(l.kind, REG_GPR);
	assert_int_equal(l.index, slot);
}

static void expect_vmcs(uint32_t reg, uint32_t field)
{
	struct reg_loc l = loc(reg);

	assert_int_equal(l.kind, REG_VMCS);
	assert_int_equal(l.field, field);
}

static void test_gprs(void **state)
{
	(void)state;
	expect_gpr(HV_X86_RAX, SLOT(rax));
	expect_gpr(HV_X86_RCX, SLOT(rcx));
	expect_gpr(HV_X86_RDX, SLOT(rdx));
	expect_gpr(HV_X86_RBX, SLOT(rbx));
	expect_gpr(HV_X86_RSI, SLOT(rsi));
	expect_gpr(HV_X86_RDI, SLOT(rdi));
	expect_gpr(HV_X86_RBP, SLOT(rbp));
	expect_gpr(HV_X86_R8, SLOT(r8));
	expect_gpr(HV_X86_R9, SLOT(r9));
	expect_gpr(HV_X86_R10, SLOT(r10));
	expect_gpr(HV_X86_R11, SLOT(r11));
	expect_gpr(HV_X86_R12, SLOT(r12));
	expect_gpr(HV_X86_R13, SLOT(r13));
	expect_gpr(HV_X86_R14, SLOT(r14));
	expect_gpr(HV_X86_R15, SLOT(r15));
	/* RSP is not in the frame: VM entry and exit keep it in the VMCS. */
	expect_vmcs(HV_X86_RSP, VMCS_GUEST_RSP);
}

static void test_vmcs_registers(void **state)
{
	static const struct { uint32_t reg, field; } map[] = {
		{ HV_X86_RIP, VMCS_GUEST_RIP }, { HV_X86_RFLAGS, VMCS_GUEST_RFLAGS },
		{ HV_X86_CS, VMCS_GUEST_CS_SEL }, { HV_X86_SS, VMCS_GUEST_SS_SEL },
		{ HV_X86_DS, VMCS_GUEST_DS_SEL }, { HV_X86_ES, VMCS_GUEST_ES_SEL },
		{ HV_X86_FS, VMCS_GUEST_FS_SEL }, { HV_X86_GS, VMCS_GUEST_GS_SEL },
		{ HV_X86_IDT_BASE, VMCS_GUEST_IDTR_BASE }, { HV_X86_IDT_LIMIT, VMCS_GUEST_IDTR_LIMIT },
		{ HV_X86_GDT_BASE, VMCS_GUEST_GDTR_BASE }, { HV_X86_GDT_LIMIT, VMCS_GUEST_GDTR_LIMIT },
		{ HV_X86_LDTR, VMCS_GUEST_LDTR_SEL }, { HV_X86_LDT_BASE, VMCS_GUEST_LDTR_BASE },
		{ HV_X86_LDT_LIMIT, VMCS_GUEST_LDTR_LIMIT }, { HV_X86_LDT_AR, VMCS_GUEST_LDTR_AR },
		{ HV_X86_TR, VMCS_GUEST_TR_SEL }, { HV_X86_TSS_BASE, VMCS_GUEST_TR_BASE },
		{ HV_X86_TSS_LIMIT, VMCS_GUEST_TR_LIMIT }, { HV_X86_TSS_AR, VMCS_GUEST_TR_AR },
		{ HV_X86_CR0, VMCS_GUEST_CR0 }, { HV_X86_CR3, VMCS_GUEST_CR3 },
		{ HV_X86_CR4, VMCS_GUEST_CR4 }, { HV_X86_DR7, VMCS_GUEST_DR7 },
		{ HV_X86_DR5, VMCS_GUEST_DR7 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		expect_vmcs(map[i].reg, map[i].field);
}

static void test_switched_state(void **state)
{
	(void)state;
	assert_int_equal(loc(HV_X86_CR1).kind, REG_CR1);
	assert_int_equal(loc(HV_X86_CR2).kind, REG_CR2);
	for (uint32_t r = HV_X86_DR0; r <= HV_X86_DR3; r++) {
		assert_int_equal(loc(r).kind, REG_DR);
		assert_int_equal(loc(r).index, r - HV_X86_DR0);
	}
	assert_int_equal(loc(HV_X86_DR6).kind, REG_DR6);
	assert_int_equal(loc(HV_X86_DR4).kind, REG_DR6);	/* the old alias */
	assert_int_equal(loc(HV_X86_TPR).kind, REG_TPR);
	assert_int_equal(loc(HV_X86_XCR0).kind, REG_XCR0);
}

/* Every register has a home, no two GPR slots or VMCS fields collide, nothing past the end. */
static void test_complete(void **state)
{
	unsigned gpr_seen = 0;
	struct reg_loc l;

	(void)state;
	for (uint32_t r = 0; r < HV_X86_REGISTERS_MAX; r++) {
		l = loc(r);
		if (l.kind == REG_GPR) {
			assert_true(l.index < 15);
			assert_false(gpr_seen & (1u << l.index));
			gpr_seen |= 1u << l.index;
		}
		if (l.kind == REG_VMCS)
			assert_int_equal((l.field >> 10) & 3, 2);	/* guest-state fields only */
	}
	assert_int_equal(gpr_seen, 0x7fff);
	assert_false(vcpu_reg_loc(HV_X86_REGISTERS_MAX, &l));
	assert_false(vcpu_reg_loc(0xffffffffu, &l));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gprs),
		cmocka_unit_test(test_vmcs_registers),
		cmocka_unit_test(test_switched_state),
		cmocka_unit_test(test_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
