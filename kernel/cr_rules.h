/*
 * What MOV to CR0 and MOV to CR4 accept on the bare CPU (SDM Vol. 2B "MOV -
 * Move to/from Control Registers", Vol. 3A 2.5 and 4.1.1), for the writes
 * hvmetal completes on the control domain's behalf: a value the CPU would refuse
 * gets its #GP, so no VM entry can ever fail on it. Pure; host-tested.
 */
#ifndef HVMETAL_CR_RULES_H
#define HVMETAL_CR_RULES_H

#include <stdbool.h>
#include <stdint.h>

#define CR4_PCIDE	(1ull << 17)
#define CR4_CET		(1ull << 23)

/* The state a control-register write is checked against. */
struct cr_state {
	uint64_t cr0, cr3, cr4, efer;	/* as the caller sees them (shadows for CR0/CR4) */
	bool cs_l;			/* CS.L: 64-bit code */
};

/* Would MOV to CR0 of val succeed in state s? */
bool cr0_write_valid(const struct cr_state *s, uint64_t val);
/* Would MOV to CR4 of val succeed, on a CPU whose CR4 may hold only the bits in allowed? */
bool cr4_write_valid(const struct cr_state *s, uint64_t val, uint64_t allowed);

#endif
