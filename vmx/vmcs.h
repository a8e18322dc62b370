/*
 * VMCS access in layers: VMX instructions that decode VMfailInvalid/VMfailValid,
 * then checked vmcs_read/vmcs_write (a failure there is a bug in hvmetal: panic).
 */
#ifndef HVMETAL_VMCS_H
#define HVMETAL_VMCS_H

#include <stdint.h>

enum vmx_result {
	VMX_OK = 0,
	VMX_FAIL_INVALID,	/* CF=1: no current VMCS or bad pointer */
	VMX_FAIL_VALID,		/* ZF=1: reason in VMCS_INSN_ERROR */
};

#define VMX_INSN_1(name, insn)						\
static inline enum vmx_result name(uint64_t pa)				\
{									\
	uint8_t cf, zf;							\
	__asm__ volatile(insn " %2; setc %0; setz %1"			\
			 : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory"); \
	return cf ? VMX_FAIL_INVALID : zf ? VMX_FAIL_VALID : VMX_OK;	\
}
VMX_INSN_1(vmx_on, "vmxon")
VMX_INSN_1(vmx_clear, "vmclear")
VMX_INSN_1(vmx_ptrld, "vmptrld")
#undef VMX_INSN_1

static inline enum vmx_result vmx_vmread(uint64_t field, uint64_t *val)
{
	uint8_t cf, zf;

	__asm__ volatile("vmread %3, %2; setc %0; setz %1"
			 : "=qm"(cf), "=qm"(zf), "=r"(*val) : "r"(field) : "cc");
	return cf ? VMX_FAIL_INVALID : zf ? VMX_FAIL_VALID : VMX_OK;
}

static inline enum vmx_result vmx_vmwrite(uint64_t field, uint64_t val)
{
	uint8_t cf, zf;

	__asm__ volatile("vmwrite %3, %2; setc %0; setz %1"
			 : "=qm"(cf), "=qm"(zf) : "r"(field), "rm"(val) : "cc");
	return cf ? VMX_FAIL_INVALID : zf ? VMX_FAIL_VALID : VMX_OK;
}

#define INVEPT_SINGLE	1ull
#define INVEPT_ALL	2ull

/* INVEPT: drop what the CPU cached for one EPTP (single) or every EPTP (all). */
static inline void vmx_invept(uint64_t type, uint64_t eptp)
{
	struct { uint64_t eptp, zero; } d = { eptp, 0 };

	__asm__ volatile("invept %0, %1" : : "m"(d), "r"(type) : "cc", "memory");
}

/* INVVPID, single context: drop the guest-linear translations tagged with vpid. */
static inline void vmx_invvpid_single(uint16_t vpid)
{
	struct { uint64_t vpid, zero; } d = { vpid, 0 };

	__asm__ volatile("invvpid %0, %1" : : "m"(d), "r"(1ull) : "cc", "memory");
}

/* Width of a field from its encoding (SDM appendix B): 16, 64, 32 or natural (64) bits. */
static inline unsigned vmcs_field_bits(uint32_t field)
{
	static const unsigned bits[4] = { 16, 64, 32, 64 };

	return (field & 1) ? 32 : bits[(field >> 13) & 3];
}

void vmcs_read_failed(uint32_t field) __attribute__((noreturn, cold));
void vmcs_write_failed(uint32_t field, uint64_t val) __attribute__((noreturn, cold));

/*
 * Inline, as they sit on every exit path: VMREAD/VMWRITE and one branch (CF or ZF
 * set means failure). A value wider than the field also fails the write, in
 * software: the CPU would drop the high bits silently.
 */
static inline uint64_t vmcs_read(uint32_t field)
{
	uint64_t v;

	__asm__ goto("vmread %1, %0; jbe %l[fail]" : "=r"(v) : "r"((uint64_t)field) : "cc" : fail);
	return v;
fail:
	vmcs_read_failed(field);
}

static inline void vmcs_write(uint32_t field, uint64_t val)
{
	unsigned bits = vmcs_field_bits(field);

	if (__builtin_expect(bits < 64 && (val >> bits), 0))
		vmcs_write_failed(field, val);
	__asm__ goto("vmwrite %1, %0; jbe %l[fail]" : : "r"((uint64_t)field), "rm"(val) : "cc" : fail);
	return;
fail:
	vmcs_write_failed(field, val);
}

#endif
