#include "cpu.h"
#include "cr_rules.h"

bool cr0_write_valid(const struct cr_state *s, uint64_t val)
{
	bool lma = s->efer & EFER_LMA;

	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) ||
	    ((val & CR0_NW) && !(val & CR0_CD)))
		return false;
	/* Turning paging on with LME set enters IA-32e mode: PAE first, and not from 64-bit code. */
	if ((val & CR0_PG) && !(s->cr0 & CR0_PG) && (s->efer & EFER_LME) &&
	    (!(s->cr4 & CR4_PAE) || s->cs_l))
		return false;
	/* Paging goes off only from compatibility mode, and never under PCIDE. */
	if (!(val & CR0_PG) && (s->cr0 & CR0_PG) && ((lma && s->cs_l) || (s->cr4 & CR4_PCIDE)))
		return false;
	/* CET needs write protection. */
	return (val & CR0_WP) || !(s->cr4 & CR4_CET);
}

bool cr4_write_valid(const struct cr_state *s, uint64_t val, uint64_t allowed)
{
	bool lma = s->efer & EFER_LMA;

	if (val & ~allowed)
		return false;
	/* IA-32e mode keeps PAE and its paging depth. */
	if (lma && (!(val & CR4_PAE) || ((val ^ s->cr4) & CR4_LA57)))
		return false;
	/* PCIDE turns on only in IA-32e mode, with PCID 0 current. */
	if ((val & CR4_PCIDE) && !(s->cr4 & CR4_PCIDE) && (!lma || (s->cr3 & 0xfff)))
		return false;
	return !(val & CR4_CET) || (s->cr0 & CR0_WP);
}
