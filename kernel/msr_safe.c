#include "msr_safe.h"

extern const char msr_safe_read_insn[], msr_safe_write_insn[], msr_safe_fault[];

uint64_t msr_safe_fixup(uint64_t rip)
{
	if (rip == (uintptr_t)msr_safe_read_insn || rip == (uintptr_t)msr_safe_write_insn)
		return (uintptr_t)msr_safe_fault;
	return 0;
}
