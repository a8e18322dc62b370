/*
 * The APIC load-store cache (LSC) of one vCPU: Apple's hv_vcpu_apic_lsc_*.
 *
 * An entry names one "basic register move" on the local APIC page by the
 * instruction's (rip, ilen, CS selector): a 32-bit load into a GPR, a 32-bit
 * store from a GPR, or a store of an imm32.  The APIC register is not in the
 * entry: at each hit it comes from the APIC-access exit qualification, so one
 * entry serves whatever offset that instruction touches.  A pure model: it
 * only keeps and checks entries; the caller performs the move and advances
 * RIP by ilen.  The caller owns the memory; zeroed memory is an empty cache.
 *
 * Decisions where Apple is silent (for docs/apic.md):
 * - Capacity LSC_ENTRIES = 8.  Entering an existing (rip, ilen, cs) replaces
 *   that entry in place; otherwise the lowest empty slot is used; when all
 *   are full, slot `next` is evicted and next advances round robin.
 * - rip is the full 64-bit RIP (not CS.base + RIP); cs is the selector.
 * - reg for the r32 kinds: any of the 16 GPRs, HV_X86_RAX .. HV_X86_R15,
 *   RSP included (mov %esp/[apic] is a legal instruction).  A load writes the
 *   register as the CPU would (zero-extended in 64-bit mode).  reg is not
 *   used for imm32 entries and is stored as 0.
 * - Arguments are HV_BAD_ARGUMENT: ilen outside 1..15, an unknown kind, reg
 *   outside the GPRs, more than 2 code pages, 2 pages when
 *   [linear_rip, linear_rip + ilen) stays in one 4 KiB page or 1 page when it
 *   crosses one, pages without a reader or paging state, or code bytes that
 *   cannot be read.  A refused enter changes nothing.
 * - Self-validation, only for entries entered with code pages: the ilen bytes
 *   at linear_rip (split over the 2 pages when they cross), linear_rip
 *   itself (a changed CS.base moves it) and the paging state that decides
 *   which physical bytes linear_rip names: CR0.PE and PG, CR3 (without the
 *   PCID, bits 11:0, while CR4.PCIDE is set), CR4.PSE, PAE, LA57 and PCIDE,
 *   EFER.LMA.  Permission bits (CR0.WP, CR4.SMEP/SMAP/PKE, EFER.NXE) are
 *   left out: an APIC-access exit means the CPU already fetched the
 *   instruction.  Any difference at a lookup drops the entry.  Entries
 *   without pages are not checked: the caller invalidates on code changes.
 * - A lookup whose access disagrees with the entry's kind (a write at a load
 *   entry, a read at a store entry) cannot come from the cached instruction:
 *   it is a miss and drops the entry.
 * - Not checked: page-table edits under an unchanged CR3, and CS.D/L changes
 *   under an unchanged selector and base (the caller invalidates on those;
 *   Apple keeps only the bytes and control registers too).
 */
#ifndef HVMETAL_LSC_H
#define HVMETAL_LSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <Hypervisor/hv_arch_x86.h>
#include <Hypervisor/hv_error.h>

#define LSC_ENTRIES	8
#define LSC_ILEN_MAX	15
#define LSC_PAGE_SIZE	4096u

enum lsc_kind {
	LSC_LOAD_R32	= 1,	/* movl apic, %reg32 */
	LSC_STORE_R32	= 2,	/* movl %reg32, apic */
	LSC_STORE_IMM32	= 3,	/* movl $imm32, apic */
};

/* The guest's paging-related control registers, full values; lsc.c picks the bits. */
struct lsc_paging {
	uint64_t cr0, cr3, cr4, efer;
};

/* The caller's pages holding the instruction: opaque handles (e.g. host-physical addresses). */
struct lsc_code {
	uint64_t page[2];
	unsigned pages;		/* 0 (no checks), 1 or 2 */
};

/* Reads len bytes at offset off of page `page`; false when it cannot. */
typedef bool (*lsc_read_fn)(void *ctx, uint64_t page, unsigned off, void *buf, unsigned len);

/* What lsc_enter() is asked to cache: Apple's enter_r32 / enter_imm32 arguments. */
struct lsc_op {
	uint64_t rip;
	uint16_t cs;
	unsigned ilen;
	unsigned kind;		/* enum lsc_kind */
	hv_x86_reg_t reg;	/* r32 kinds only */
	uint32_t imm;		/* LSC_STORE_IMM32 only */
};

/* One cached move; set by lsc_enter(), cleared by a failed check or lsc_invalidate(). */
struct lsc_entry {
	struct lsc_op op;
	bool valid;
	bool checked;		/* entered with code pages: the fields below are compared at each hit */
	struct lsc_code code;
	uint64_t linear_rip;
	struct lsc_paging pg;	/* masked to the bits that are compared */
	uint8_t bytes[LSC_ILEN_MAX];
};

struct lsc {
	struct lsc_entry e[LSC_ENTRIES];
	unsigned next;		/* the slot evicted when all are valid */
};

/*
 * Cache op.  With code->pages > 0, records the instruction bytes read through
 * rd at linear_rip and the masked paging state pg.  code may be NULL (no pages).
 */
hv_return_t lsc_enter(struct lsc *c, const struct lsc_op *op, const struct lsc_code *code,
		      const struct lsc_paging *pg, uint64_t linear_rip, lsc_read_fn rd, void *ctx);

/*
 * The entry for an APIC-access exit at (rip, ilen, cs) that reads (is_write
 * false) or writes the APIC page, or NULL.  A checked entry is compared with
 * pg, linear_rip and the bytes read now through rd, and dropped on any change.
 */
const struct lsc_entry *lsc_lookup(struct lsc *c, uint64_t rip, unsigned ilen, uint16_t cs,
				   bool is_write, const struct lsc_paging *pg, uint64_t linear_rip,
				   lsc_read_fn rd, void *ctx);

/* Empty the cache (Apple's hv_vcpu_apic_lsc_invalidate). */
void lsc_invalidate(struct lsc *c);

#endif
