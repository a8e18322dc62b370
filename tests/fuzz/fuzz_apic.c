/*
 * Fuzzes the pure APIC models of apic/ together, wired as vm/vapic.c wires
 * them for one VM: up to four local APICs (vlapic) on one bus (vintr), the
 * IOAPIC delivering on that bus and taking level EOIs back, the 8259 pair's
 * INT on LINT0 of every local APIC, plus one load-store cache (lsc) over a
 * fake page reader.  Time is a monotonic fake guest TSC.
 *
 * Input: a header (struct header: how many local APICs, the TSC rate), then
 * operations of 8 bytes (struct op): page reads and writes at any offset,
 * MSR reads and writes, put_state of random or mutated states (local APIC,
 * IOAPIC, either 8259), hv_vm_lapic_set_intr / msi / send_ioapic_intr, pin and
 * IRQ changes, IOAPIC MMIO and 8259 port accesses, time passing and the
 * timers checked, what a CPU does (pending NMI, ExtINT INTA, the local APIC's
 * vector accepted, EOIs), controls, bus frequency, vCPUs attached and
 * detached, LSC enter / lookup / invalidate.
 *
 * After every operation, for every attached local APIC: vlapic_pending is -1
 * or a vector 16..255 whose class is above PPR's; no vector 0-15 is in IRR,
 * ISR, TMR or AEOI; AEOI marks only IRR vectors; every ISR vector was
 * accepted (or put) before; after a timer check the deadline is not in the
 * past; get_state -> put_state succeeds and get_state again is the same
 * (every model's own state is one its put_state accepts).  A put_state that
 * fails changes nothing; one that succeeds reads back as it was put.  An
 * effect of a write is only INIT_AP, STARTUP_AP or IOAPIC_EOI, with targets
 * that exist.  LSC: a refused enter changes nothing, a hit is an entry for
 * that (rip, ilen, cs) whose kind fits the access.  ASan and UBSan watch it
 * all; libFuzzer's -timeout catches a loop that does not end.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_intr.h>

#include "apic/lsc.h"
#include "apic/vatpic.h"
#include "apic/vintr.h"
#include "apic/vioapic.h"
#include "apic/vlapic.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NLAPIC		4
#define MAX_OPS		256

#define CHECK(c)	do { if (!(c)) fail(__LINE__, #c); } while (0)

static __attribute__((noreturn)) void fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_apic.c:%d: invariant broken: %s\n", line, what);
	abort();
}

struct header {
	uint8_t nlapic;		/* 1 + this % NLAPIC */
	uint8_t tsc;		/* the guest TSC rate (0: taken as the bus rate) */
	uint8_t ids;		/* bit i: LAPIC slot i is vCPU 60 + i instead of i */
	uint8_t pad;
};

struct op {
	uint8_t kind, a, b, c;
	uint32_t val;
};

/* ---- the VM: as vm/vapic.c wires it ---- */

static struct vintr vi;
static struct vioapic io;
static struct vatpic pic;
static struct vlapic lapic[NLAPIC];
static uint32_t lapic_id[NLAPIC];
static bool attached[NLAPIC];
static struct apic_env env;
static uint64_t kicked;
static uint32_t may_isr[NLAPIC][8];	/* vectors accepted or put into ISR since attach */
static uint64_t now;
static struct lsc lsc;
static uint8_t code[2][LSC_PAGE_SIZE];

static void kick(void *ctx, uint32_t vcpu)
{
	(void)ctx;
	CHECK(vcpu < VINTR_VCPUS && vi.lapic[vcpu]);
	kicked |= 1ull << vcpu;
}

static void ioapic_deliver(void *arg, const struct apic_msg *m)
{
	(void)arg;
	vintr_deliver(&vi, m, NULL);
}

static void eoi_level(void *arg, uint8_t vector)
{
	(void)arg;
	vioapic_eoi(&io, vector);
}

static void atpic_intr(void *arg, bool level)
{
	(void)arg;
	vintr_lint(&vi, 0, level);
}

static bool page_read(void *ctx, uint64_t page, unsigned off, void *buf, unsigned len)
{
	(void)ctx;
	if (page > 1 || off > LSC_PAGE_SIZE || len > LSC_PAGE_SIZE - off)
		return false;	/* a page the reader cannot read, or a request past its end */
	memcpy(buf, code[page] + off, len);
	return true;
}

static void attach(unsigned i)
{
	vlapic_init(&lapic[i], &vi, lapic_id[i]);
	vi.lapic[lapic_id[i]] = &lapic[i];
	attached[i] = true;
	memset(may_isr[i], 0, sizeof(may_isr[i]));
}

static void detach(unsigned i)
{
	vi.lapic[lapic_id[i]] = NULL;
	attached[i] = false;
}

static void setup(const struct header *h)
{
	static const uint64_t tsc_hz[] = { 0, 1000000000ull, 2400000000ull, 19200000ull, 3000000000ull,
					   1, 16000000ull, 5000000000ull };
	unsigned n = 1 + h->nlapic % NLAPIC;

	memset(&vi, 0, sizeof(vi));
	memset(lapic, 0, sizeof(lapic));
	memset(attached, 0, sizeof(attached));
	memset(&lsc, 0, sizeof(lsc));
	kicked = 0;
	now = 1000;
	env = (struct apic_env){ .ctx = NULL, .kick = kick };
	vintr_init(&vi, &env, tsc_hz[h->tsc % ARRAY_SIZE(tsc_hz)]);
	vi.eoi_level = eoi_level;
	vi.eoi_arg = NULL;
	vioapic_init(&io, ioapic_deliver, NULL);
	vatpic_init(&pic, atpic_intr, NULL);
	for (unsigned i = 0; i < NLAPIC; i++)
		lapic_id[i] = h->ids >> i & 1 ? 60 + i : i;
	for (unsigned i = 0; i < n; i++)
		attach(i);
	for (unsigned p = 0; p < 2; p++)
		for (unsigned i = 0; i < LSC_PAGE_SIZE; i++)
			code[p][i] = (uint8_t)(i * 7 + p);
}

/* ---- decoding ---- */

static const uint32_t offsets[] = {
	0x20, 0x30, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x100, 0x170, 0x180, 0x1f0,
	0x200, 0x270, 0x280, 0x2f0, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370,
	0x380, 0x390, 0x3e0, 0x3f0,
};

static uint32_t offset_of(uint8_t a, uint8_t b)
{
	switch (a >> 6) {
	case 0:
	case 1:
		return offsets[b % ARRAY_SIZE(offsets)];
	case 2:
		return offsets[b % ARRAY_SIZE(offsets)] + (a & 15);	/* unaligned */
	default:
		return ((uint32_t)(a & 15) << 8 | b) & 0xfff;
	}
}

static uint32_t msr_of(uint8_t a, uint8_t b)
{
	switch (a >> 5) {
	case 0:
		return 0x1b;
	case 1:
		return 0x6e0;
	case 2:
	case 3:
	case 4:
		return 0x800 + (offsets[b % ARRAY_SIZE(offsets)] >> 4);
	case 5:
		return 0x800 + b;
	case 6:
		return 0x83f;	/* SELF IPI */
	default:
		return b & 1 ? 0x8ff : 0x10;
	}
}

/* A 32-bit value shaped like what the register might get. */
static uint32_t value_of(uint8_t sel, uint32_t v)
{
	switch (sel & 7) {
	case 0:
		return v;
	case 1:		/* LVT: vector, mode, mask, timer mode, level */
		return (v & 0x7ff) | (v & 0x10000) | (v & 0x60000) | (v & 0x8000);
	case 2:		/* ICR low: vector, mode, dest mode, level, trigger, shorthand */
		return (v & 0xfff) | (v & 0xc000) | (v & 0xc0000);
	case 3:		/* ICR high / destination */
		return v << 24;
	case 4:
		return v & 0xff;
	case 5:		/* SVR */
		return (v & 0xff) | 0x100 | (v & 0x1200);
	case 6:		/* a small timer count */
		return v & 0xfff;
	default:
		return v & 1 ? 0xffffffffu : 0;
	}
}

static uint64_t msr_value_of(uint32_t msr, uint8_t sel, uint32_t v)
{
	uint64_t hi = sel & 0x80 ? (uint64_t)(v >> 16) << 32 : 0;

	switch (msr) {
	case 0x1b:
		return (sel & 8 ? 0xfee00000ull : (uint64_t)(v & 0xfffff) << 12) | (v & 0xd00) | hi;
	case 0x6e0:
		switch (sel & 3) {
		case 0: return now + (v & 0xffff);
		case 1: return v & 0xff;
		case 2: return ~0ull - (v & 0xffff);
		default: return (uint64_t)v << 32 | v;
		}
	case 0x830:
		return value_of(2, v) | (sel & 0x40 ? (uint64_t)(v & 3) << 32 : 0xffffffffull << 32);
	default:
		return value_of(sel, v) | (sel & 0x40 ? hi : 0);
	}
}

/* ---- checks ---- */

static bool vec_bit(const uint32_t *v, unsigned n)
{
	return v[n / 32] >> (n % 32) & 1;
}

static void check_state_shape(unsigned i, const struct hv_apic_state *s)
{
	CHECK(!(s->isr[0] & 0xffff) && !(s->irr[0] & 0xffff) && !(s->tmr[0] & 0xffff) &&
	      !(s->aeoi[0] & 0xffff));
	for (unsigned w = 0; w < 8; w++) {
		CHECK(!(s->aeoi[w] & ~s->irr[w]));
		CHECK(!(s->isr[w] & ~may_isr[i][w]));
	}
	CHECK(s->ver == VLAPIC_VERSION && s->apr == 0 && s->boot_state <= 2);
}

/* get -> put -> get is a fixed point: the model's state is one its put accepts. */
static void check_fixed_point(unsigned i)
{
	struct hv_apic_state a, b;
	hv_return_t r;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	vlapic_get_state(&lapic[i], &a, now);
	check_state_shape(i, &a);
	r = vlapic_put_state(&lapic[i], &a, now);
	CHECK(r == HV_SUCCESS);
	vlapic_get_state(&lapic[i], &b, now);
	for (size_t k = 0; k < sizeof(a); k++)
		if (((uint8_t *)&a)[k] != ((uint8_t *)&b)[k])
			fprintf(stderr, "LAPIC %u state byte %zu: %#x got, put, then %#x\n", i, k,
				((uint8_t *)&a)[k], ((uint8_t *)&b)[k]);
	if (memcmp(&a, &b, sizeof(a)))
		fprintf(stderr, "LAPIC %u: timer LVT %#x initial %u divide %#x current %u then %u; now %lu, "
			"bus %lu Hz, TSC %lu Hz\n", i, a.lvt[VLAPIC_LVT_TIMER], a.icr_timer, a.dcr_timer,
			a.ccr_timer, b.ccr_timer, now, vi.bus_hz, vi.tsc_hz);
	CHECK(!memcmp(&a, &b, sizeof(a)));
}

static void check_ioapic_fixed_point(void)
{
	struct hv_ioapic_state a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	vioapic_get_state(&io, &a);
	CHECK(a.ioa_id <= 15);
	CHECK(vioapic_put_state(&io, &a) == HV_SUCCESS);
	vioapic_get_state(&io, &b);
	CHECK(!memcmp(&a, &b, sizeof(a)));
}

static void check_atpic_fixed_point(bool primary)
{
	struct hv_atpic_state a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	vatpic_get_state(&pic, primary, &a);
	CHECK(vatpic_put_state(&pic, primary, &a) == HV_SUCCESS);
	vatpic_get_state(&pic, primary, &b);
	CHECK(!memcmp(&a, &b, sizeof(a)));
}

static void check_lapic(unsigned i)
{
	const struct vlapic *l = &lapic[i];
	int v = vlapic_pending(l);

	CHECK(v == -1 || (v >= 16 && v <= 255));
	if (v >= 0)
		CHECK(((unsigned)v & 0xf0) > (vlapic_ppr(l) & 0xf0u) && vec_bit(l->irr, (unsigned)v));
	for (unsigned w = 0; w < 8; w++) {
		CHECK(!(l->aeoi[w] & ~l->irr[w]));
		CHECK(!(l->isr[w] & ~may_isr[i][w]));
	}
	CHECK(!(l->isr[0] & 0xffff) && !(l->irr[0] & 0xffff) && !(l->tmr[0] & 0xffff));
	CHECK(l->boot_state <= 2);
	CHECK(vlapic_get_tpr(l) <= 15);
}

static void check_effect(bool nse, const struct vlapic_effect *e)
{
	uint64_t exist = 0;

	for (unsigned i = 0; i < NLAPIC; i++)
		if (attached[i] && lapic_id[i] < 64)
			exist |= 1ull << lapic_id[i];
	CHECK(nse == !e->exitinfo);
	CHECK(!e->exitinfo || e->exitinfo == HV_VM_EXITINFO_INIT_AP ||
	      e->exitinfo == HV_VM_EXITINFO_STARTUP_AP || e->exitinfo == HV_VM_EXITINFO_IOAPIC_EOI);
	if (e->exitinfo == HV_VM_EXITINFO_INIT_AP || e->exitinfo == HV_VM_EXITINFO_STARTUP_AP)
		CHECK(e->targets && !(e->targets & ~exist));
}

/* ---- operations ---- */

/* A state to put: the one there now, mutated in a few places, or random bytes. */
static void mutate(void *st, size_t n, const struct op *o)
{
	uint8_t *p = st;

	if (o->c & 0x80) {
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(o->val * (i + 1) >> (i % 24));
		return;
	}
	if (o->c & 0x40)
		return;		/* unchanged */
	p[o->b % n] = (uint8_t)o->val;
	if (o->c & 0x20)
		p[(o->b + (o->val >> 8)) % n] = (uint8_t)(o->val >> 16);
	if (o->c & 0x10) {	/* a whole 32-bit field */
		size_t off = (o->val >> 24) * 4 % (n & ~3ul);

		memcpy(p + off, &o->val, 4);
	}
}

static void op_put_lapic(unsigned i, const struct op *o)
{
	struct hv_apic_state before, s, after;
	hv_return_t r;

	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	vlapic_get_state(&lapic[i], &before, now);
	s = before;
	mutate(&s, sizeof(s), o);
	if (o->c & 8)
		s.boot_state = (enum hv_boot_state)(o->val & 3);
	r = vlapic_put_state(&lapic[i], &s, now);
	vlapic_get_state(&lapic[i], &after, now);
	if (r != HV_SUCCESS) {
		CHECK(r == HV_BAD_ARGUMENT);
		CHECK(!memcmp(&before, &after, sizeof(before)));
		return;
	}
	for (unsigned w = 0; w < 8; w++)
		may_isr[i][w] |= s.isr[w];
	CHECK(!memcmp(&s, &after, sizeof(s)));
}

static void op_put_ioapic(const struct op *o)
{
	struct hv_ioapic_state before, s, after;
	hv_return_t r;

	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	vioapic_get_state(&io, &before);
	s = before;
	mutate(&s, sizeof(s), o);
	r = vioapic_put_state(&io, &s);
	vioapic_get_state(&io, &after);
	if (r != HV_SUCCESS) {
		CHECK(r == HV_BAD_ARGUMENT);
		CHECK(!memcmp(&before, &after, sizeof(before)));
		return;
	}
	/* A put may deliver what its levels and entries say; the table reads back but remote IRR and the levels. */
	for (unsigned p = 0; p < VIOAPIC_PINS; p++)
		CHECK((s.rtbl[p] & ~VIOAPIC_RTE_RIRR & ~VIOAPIC_RTE_STATUS) ==
		      (after.rtbl[p] & ~VIOAPIC_RTE_RIRR & ~VIOAPIC_RTE_STATUS));
	CHECK(s.ioa_id == after.ioa_id);
}

static void op_put_atpic(const struct op *o)
{
	bool primary = o->a & 1;
	struct hv_atpic_state before, s, after;
	hv_return_t r;

	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	vatpic_get_state(&pic, primary, &before);
	s = before;
	mutate(&s, sizeof(s), o);
	r = vatpic_put_state(&pic, primary, &s);
	vatpic_get_state(&pic, primary, &after);
	if (r != HV_SUCCESS) {
		CHECK(r == HV_BAD_ARGUMENT);
		CHECK(!memcmp(&before, &after, sizeof(before)));
		return;
	}
	CHECK(!memcmp(&s, &after, sizeof(s)));
}

/* What a CPU does before an entry (vm/vcpu_apic.c inject_pending), and the guest's EOI after. */
static void op_cpu(unsigned i, const struct op *o)
{
	struct vlapic *l = &lapic[i];
	struct vlapic_effect eff = { 0 };
	uint8_t ext = 0;
	int vec;

	if (l->nmi_pending && !(o->a & 1)) {
		unsigned before = l->nmi_pending;

		CHECK(before <= 2 && vlapic_take_nmi(l));
		CHECK(l->nmi_pending == before - 1);
		return;
	}
	if ((o->a & 2 || vlapic_extint_pending(l)) && vatpic_pending(&pic, &ext)) {
		vatpic_accept(&pic, ext);
		return;
	}
	vec = vlapic_pending(l);
	if (vec < 0)
		return;
	may_isr[i][vec / 32] |= 1u << (vec % 32);
	vlapic_accept(l, (uint8_t)vec);
	if (o->a & 4) {		/* the guest's EOI, through the page or the x2APIC MSR */
		if (!vlapic_x2apic(l))
			check_effect(vlapic_write(l, 0xb0, 0, now, &eff), &eff);
		else if (vlapic_wrmsr(l, 0x80b, 0, now, &eff))
			check_effect(!eff.exitinfo, &eff);
	}
}

static void op_lsc(const struct op *o)
{
	struct lsc before = lsc;
	struct lsc_paging pg = {
		.cr0 = o->b & 1 ? 0x80000011 : 0x11, .cr3 = (uint64_t)(o->val & 0xff) << 12,
		.cr4 = o->b & 2 ? 0x20 : 0, .efer = o->b & 4 ? 0x500 : 0,
	};
	uint64_t rip = 0x1000 - (o->val >> 8 & 15);	/* near a page end: one or two pages */
	unsigned ilen = o->a & 15;
	uint16_t cs = o->b & 8 ? 0x10 : 0x8;

	switch (o->c & 3) {
	case 0: {	/* enter */
		struct lsc_op op = {
			.rip = rip, .cs = cs, .ilen = ilen, .kind = (o->a >> 4) & 3,
			.reg = (hv_x86_reg_t)((o->val >> 16) & 31), .imm = o->val,
		};
		struct lsc_code cd = { .page = { (o->c >> 2) & 3, (o->c >> 4) & 3 }, .pages = (o->c >> 6) & 3 };
		hv_return_t r = lsc_enter(&lsc, &op, &cd, o->b & 16 ? NULL : &pg, rip, page_read, NULL);

		if (r != HV_SUCCESS) {
			CHECK(r == HV_BAD_ARGUMENT);
			CHECK(!memcmp(&before, &lsc, sizeof(lsc)));
		}
		break;
	}
	case 1: {	/* lookup */
		bool write = o->c & 4;
		const struct lsc_entry *e = lsc_lookup(&lsc, rip, ilen, cs, write, &pg, rip, page_read, NULL);

		if (e) {
			CHECK(e >= lsc.e && e < lsc.e + LSC_ENTRIES && e->valid);
			CHECK(e->op.rip == rip && e->op.ilen == ilen && e->op.cs == cs);
			CHECK(write ? e->op.kind != LSC_LOAD_R32 : e->op.kind == LSC_LOAD_R32);
		}
		break;
	}
	case 2:		/* the guest's code changes */
		code[o->c >> 7][(0x1000 - 16 + (o->val & 31)) % LSC_PAGE_SIZE] ^= (uint8_t)(o->val >> 8 | 1);
		break;
	default:
		lsc_invalidate(&lsc);
		CHECK(!lsc.e[0].valid && !lsc.e[LSC_ENTRIES - 1].valid);
	}
	for (unsigned k = 0; k < LSC_ENTRIES; k++)
		CHECK(!lsc.e[k].valid || (lsc.e[k].op.ilen >= 1 && lsc.e[k].op.ilen <= LSC_ILEN_MAX));
}

static int int_of(uint8_t sel, uint8_t b)
{
	static const int odd[] = { -1, -2, 32, 33, 16, 2, 0x7fffffff, (int)0x80000000u, 255, 256 };

	return sel & 0x80 ? odd[b % ARRAY_SIZE(odd)] : (int)(b % 40);
}

static void op(const struct op *o)
{
	unsigned i = o->a % NLAPIC;
	struct vlapic *l = &lapic[i];
	struct vlapic_effect eff = { 0 };
	uint64_t val;
	uint32_t msr;
	uint8_t b8;

	switch (o->kind % 24) {
	case 0:		/* page read */
		if (attached[i])
			(void)vlapic_read(l, offset_of(o->b, o->c), now);
		break;
	case 1:
	case 2:		/* page write */
		if (attached[i])
			check_effect(vlapic_write(l, offset_of(o->b, o->c), value_of(o->b >> 3, o->val), now, &eff),
				     &eff);
		break;
	case 3:		/* RDMSR */
		if (attached[i])
			(void)vlapic_rdmsr(l, msr_of(o->b, o->c), &val, now);
		break;
	case 4:
	case 5:		/* WRMSR */
		if (!attached[i])
			break;
		msr = msr_of(o->b, o->c);
		if (vlapic_wrmsr(l, msr, msr_value_of(msr, o->a, o->val), now, &eff))
			check_effect(!eff.exitinfo, &eff);
		else
			CHECK(!eff.exitinfo);
		break;
	case 6:
		if (attached[i])
			op_put_lapic(i, o);
		break;
	case 7: {	/* hv_vm_lapic_set_intr */
		uint32_t vcpu = o->b & 0x80 ? o->b : lapic_id[o->b % NLAPIC];
		hv_return_t r = vintr_set_intr(&vi, vcpu, (uint8_t)o->val, (hv_apic_intr_trigger_t)(o->c % 4));

		CHECK(r == HV_SUCCESS || r == HV_BAD_ARGUMENT);
		if (vcpu < VINTR_VCPUS && vi.lapic[vcpu] && (uint8_t)o->val >= 16 && o->c % 4 < 3)
			CHECK(r == HV_SUCCESS);
		break;
	}
	case 8: {	/* MSI */
		uint64_t addr = o->c & 0x80 ? (uint64_t)o->val << (o->c & 31) :
				0xfee00000ull | (uint64_t)o->b << 12 | (o->c & 0xc);
		hv_return_t r = vintr_msi(&vi, addr, o->val & 0xc7ff);

		CHECK(r == ((addr >> 20 & 0xfff) == 0xfee ? HV_SUCCESS : HV_BAD_ARGUMENT));
		break;
	}
	case 9: {	/* hv_vm_send_ioapic_intr */
		uint64_t rte = (o->val & 0x1ffff) | (uint64_t)o->b << 56 | (uint64_t)(o->c & 0x80) << 49;
		hv_return_t r = vintr_ioapic_intr(&vi, rte);

		CHECK(r == HV_SUCCESS || r == HV_BAD_ARGUMENT);
		break;
	}
	case 10: {	/* IOAPIC pins */
		int pin = int_of(o->b, o->c);
		hv_return_t r = o->a & 1 ? vioapic_assert(&io, pin) : o->a & 2 ? vioapic_deassert(&io, pin) :
				vioapic_pulse(&io, pin);

		CHECK(r == (pin >= 0 && pin < VIOAPIC_PINS ? HV_SUCCESS : HV_BAD_ARGUMENT));
		break;
	}
	case 11: {	/* IOAPIC MMIO */
		uint64_t gpa = o->b & 0x80 ? VIOAPIC_BASE - 0x10 + (o->b & 0x7f) * 0x10 + (o->c & 3) :
			       VIOAPIC_BASE + (o->b & 1 ? 0x10 : 0);
		uint32_t v = o->b & 0x40 ? o->val : (o->b & 0x20 ? 0x10 + (o->c & 0x3f) : o->c & 3);
		uint32_t got;

		if (o->a & 1)
			(void)vioapic_mmio_write(&io, gpa, v);
		else
			(void)vioapic_mmio_read(&io, gpa, &got);
		break;
	}
	case 12: {	/* 8259 IRQs */
		int irq = int_of(o->b, o->c) % 64 - (o->b & 0x40 ? 24 : 0);
		bool ok = irq >= 0 && irq < 16 && irq != 2;
		hv_return_t r = o->a & 1 ? vatpic_assert(&pic, irq) : vatpic_deassert(&pic, irq);

		CHECK(r == (ok ? HV_SUCCESS : HV_BAD_ARGUMENT));
		break;
	}
	case 13: {	/* 8259 ports */
		static const int ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x22, -0x20, 0x4d2 };
		int port = ports[o->b % ARRAY_SIZE(ports)];
		bool ok = o->b % ARRAY_SIZE(ports) < 6;
		hv_return_t r;

		if (o->a & 1)
			r = vatpic_port_write(&pic, port, (uint8_t)(o->c & 0x80 ? o->val : o->c));
		else
			r = vatpic_port_read(&pic, port, &b8);
		CHECK(r == (ok ? HV_SUCCESS : HV_BAD_ARGUMENT));
		break;
	}
	case 14:
		if (o->a & 1)
			op_put_ioapic(o);
		else
			op_put_atpic(o);
		break;
	case 15:
	case 16: {	/* time passes; every timer is checked as an owner would before entry */
		uint64_t d = o->b & 0x80 ? (uint64_t)o->val << (o->c & 31) : o->val & 0xffff;

		/*
		 * Time stays below 2^62: near 2^64 a periodic timer whose next period
		 * would pass it stops, reads a current count of 0, and put_state of that
		 * restarts it (corpus/apic/crash-periodic-timer-near-2-64, not fixed).
		 */
		now = d < (1ull << 62) - now ? now + d : (1ull << 62) - 1;
		for (unsigned k = 0; k < NLAPIC; k++) {
			if (!attached[k])
				continue;
			vlapic_timer_check(&lapic[k], now);
			CHECK(vlapic_deadline(&lapic[k]) > now);
		}
		break;
	}
	case 17:
	case 18:
		if (attached[i])
			op_cpu(i, o);
		break;
	case 19:	/* controls, trigger_lvt */
		if (!attached[i])
			break;
		if (o->b & 1)
			CHECK(vlapic_trigger_lvt(l, (hv_apic_lvt_flavor_t)(o->c & 3)) ==
			      ((o->c & 3) == HV_APIC_LVT_FLAVOR_TIMER ? HV_SUCCESS : HV_BAD_ARGUMENT));
		else
			vlapic_set_ctrl(l, o->c & 15);
		break;
	case 20: {	/* bus frequency */
		static const uint64_t hz[] = { 16000000ull, 2000000000ull, 1000000000ull, 15999999ull,
					       2000000001ull, 0, 33333333ull, 100000000ull };
		bool any = false;
		hv_return_t r = vintr_set_bus_freq(&vi, hz[o->b % ARRAY_SIZE(hz)]);

		for (unsigned k = 0; k < NLAPIC; k++)
			any |= attached[k];
		CHECK(r == HV_SUCCESS || r == HV_BAD_ARGUMENT || (r == HV_BUSY && any));
		break;
	}
	case 21:	/* vCPU created / destroyed */
		if (attached[i])
			detach(i);
		else
			attach(i);
		break;
	case 22:
		op_lsc(o);
		break;
	default:	/* LINT pins, as the 8259 or a VMM might move them */
		vintr_lint(&vi, o->b & 3, o->c & 1);
		break;
	}
	for (unsigned k = 0; k < NLAPIC; k++)
		if (attached[k])
			check_lapic(k);
	kicked = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header h;
	struct op o;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	setup(&h);
	for (unsigned n = 0; n < MAX_OPS && size >= sizeof(o); n++) {
		memcpy(&o, data, sizeof(o));
		data += sizeof(o);
		size -= sizeof(o);
		op(&o);
	}
	for (unsigned k = 0; k < NLAPIC; k++)
		if (attached[k])
			check_fixed_point(k);
	check_ioapic_fixed_point();
	check_atpic_fixed_point(true);
	check_atpic_fixed_point(false);
	return 0;
}
