/* The APIC load-store cache of one vCPU (lsc.h has the decisions). */
#include "lsc.h"
#include "kernel/string.h"

#define CR0_PE		(1ull << 0)
#define CR0_PG		(1ull << 31)
#define CR4_PSE		(1ull << 4)
#define CR4_PAE		(1ull << 5)
#define CR4_LA57	(1ull << 12)
#define CR4_PCIDE	(1ull << 17)
#define EFER_LMA	(1ull << 10)
#define CR3_PCID	0xfffull

/* The bits of the paging state that decide where linear_rip's bytes are. */
static struct lsc_paging lsc_paging_key(const struct lsc_paging *pg)
{
	return (struct lsc_paging){
		.cr0 = pg->cr0 & (CR0_PE | CR0_PG),
		.cr3 = pg->cr4 & CR4_PCIDE ? pg->cr3 & ~CR3_PCID : pg->cr3,
		.cr4 = pg->cr4 & (CR4_PSE | CR4_PAE | CR4_LA57 | CR4_PCIDE),
		.efer = pg->efer & EFER_LMA,
	};
}

static bool lsc_paging_same(const struct lsc_paging *a, const struct lsc_paging *b)
{
	return a->cr0 == b->cr0 && a->cr3 == b->cr3 && a->cr4 == b->cr4 && a->efer == b->efer;
}

static bool lsc_crosses(uint64_t linear_rip, unsigned ilen)
{
	return (linear_rip & (LSC_PAGE_SIZE - 1)) + ilen > LSC_PAGE_SIZE;
}

/* The ilen bytes at linear_rip, from page[0] and, past its end, page[1]. */
static bool lsc_read_code(const struct lsc_code *code, uint64_t linear_rip, unsigned ilen,
			  uint8_t *buf, lsc_read_fn rd, void *ctx)
{
	unsigned off = (unsigned)(linear_rip & (LSC_PAGE_SIZE - 1));
	unsigned first = ilen;

	if (code->pages == 2)
		first = LSC_PAGE_SIZE - off;
	if (!rd(ctx, code->page[0], off, buf, first))
		return false;
	return first == ilen || rd(ctx, code->page[1], 0, buf + first, ilen - first);
}

static bool lsc_op_ok(const struct lsc_op *op)
{
	if (op->ilen < 1 || op->ilen > LSC_ILEN_MAX)
		return false;
	switch (op->kind) {
	case LSC_LOAD_R32:
	case LSC_STORE_R32:
		return op->reg >= HV_X86_RAX && op->reg <= HV_X86_R15;
	case LSC_STORE_IMM32:
		return true;
	default:
		return false;
	}
}

static bool lsc_code_ok(const struct lsc_code *code, const struct lsc_paging *pg,
			uint64_t linear_rip, unsigned ilen, lsc_read_fn rd)
{
	if (code->pages == 0)
		return true;
	if (code->pages > 2 || !rd || !pg)
		return false;
	return (code->pages == 2) == lsc_crosses(linear_rip, ilen);
}

static bool lsc_same_key(const struct lsc_entry *e, uint64_t rip, unsigned ilen, uint16_t cs)
{
	return e->valid && e->op.rip == rip && e->op.ilen == ilen && e->op.cs == cs;
}

/* The slot for a new entry: the one with its key, else the lowest empty one, else round robin. */
static struct lsc_entry *lsc_slot(struct lsc *c, const struct lsc_op *op)
{
	unsigned i;

	for (i = 0; i < LSC_ENTRIES; i++)
		if (lsc_same_key(&c->e[i], op->rip, op->ilen, op->cs))
			return &c->e[i];
	for (i = 0; i < LSC_ENTRIES; i++)
		if (!c->e[i].valid)
			return &c->e[i];
	i = c->next % LSC_ENTRIES;
	c->next = (i + 1) % LSC_ENTRIES;
	return &c->e[i];
}

hv_return_t lsc_enter(struct lsc *c, const struct lsc_op *op, const struct lsc_code *code,
		      const struct lsc_paging *pg, uint64_t linear_rip, lsc_read_fn rd, void *ctx)
{
	static const struct lsc_code no_code;
	struct lsc_entry e;

	if (!code)
		code = &no_code;
	if (!lsc_op_ok(op) || !lsc_code_ok(code, pg, linear_rip, op->ilen, rd))
		return HV_BAD_ARGUMENT;
	memset(&e, 0, sizeof(e));
	e.op = *op;
	if (op->kind == LSC_STORE_IMM32)
		e.op.reg = 0;
	else
		e.op.imm = 0;
	e.valid = true;
	e.checked = code->pages > 0;
	if (e.checked) {
		e.code = *code;
		e.linear_rip = linear_rip;
		e.pg = lsc_paging_key(pg);
		if (!lsc_read_code(code, linear_rip, op->ilen, e.bytes, rd, ctx))
			return HV_BAD_ARGUMENT;
	}
	*lsc_slot(c, op) = e;
	return HV_SUCCESS;
}

/* A checked entry still names the same bytes under the same translation. */
static bool lsc_still_valid(const struct lsc_entry *e, const struct lsc_paging *pg,
			    uint64_t linear_rip, lsc_read_fn rd, void *ctx)
{
	struct lsc_paging now;
	uint8_t bytes[LSC_ILEN_MAX];

	if (!e->checked)
		return true;
	if (!pg || !rd || linear_rip != e->linear_rip)
		return false;
	now = lsc_paging_key(pg);
	if (!lsc_paging_same(&now, &e->pg))
		return false;
	return lsc_read_code(&e->code, linear_rip, e->op.ilen, bytes, rd, ctx) &&
	       !memcmp(bytes, e->bytes, e->op.ilen);
}

const struct lsc_entry *lsc_lookup(struct lsc *c, uint64_t rip, unsigned ilen, uint16_t cs,
				   bool is_write, const struct lsc_paging *pg, uint64_t linear_rip,
				   lsc_read_fn rd, void *ctx)
{
	for (unsigned i = 0; i < LSC_ENTRIES; i++) {
		struct lsc_entry *e = &c->e[i];

		if (!lsc_same_key(e, rip, ilen, cs))
			continue;
		if (is_write == (e->op.kind == LSC_LOAD_R32) ||
		    !lsc_still_valid(e, pg, linear_rip, rd, ctx)) {
			e->valid = false;
			return NULL;
		}
		return e;
	}
	return NULL;
}

void lsc_invalidate(struct lsc *c)
{
	memset(c, 0, sizeof(*c));
}
