#include "vlapic.h"
#include "vintr.h"

/* xAPIC page offsets (SDM table 11-1); the x2APIC MSR is 0x800 + offset / 16. */
#define APIC_ID		0x020
#define APIC_VER	0x030
#define APIC_TPR	0x080
#define APIC_APR	0x090
#define APIC_PPR	0x0a0
#define APIC_EOI	0x0b0
#define APIC_RRD	0x0c0
#define APIC_SVR	0x0f0
#define APIC_ISR	0x100
#define APIC_TMR	0x180
#define APIC_IRR	0x200
#define APIC_ESR	0x280
#define APIC_LVT_CMCI	0x2f0
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define APIC_LVT_TIMER	0x320
#define APIC_LVT_THERM	0x330
#define APIC_LVT_PMC	0x340
#define APIC_LVT_LINT0	0x350
#define APIC_LVT_LINT1	0x360
#define APIC_LVT_ERROR	0x370
#define APIC_TIMER_ICR	0x380
#define APIC_TIMER_CCR	0x390
#define APIC_TIMER_DCR	0x3e0
#define APIC_SELF_IPI	0x3f0		/* x2APIC only */

#define MSR_APIC_BASE		0x1b
#define MSR_TSC_DEADLINE	0x6e0
#define MSR_X2APIC_FIRST	0x800
#define MSR_X2APIC_LAST		0x8ff

#define BASE_ADDR_MASK	0x000ffffffffff000ull
#define BASE_FLAGS	(VLAPIC_BASE_BSP | VLAPIC_BASE_EXTD | VLAPIC_BASE_EN)
#define CTRL_KNOWN	(HV_APIC_CTRL_EOI_ICR_TPR | HV_APIC_CTRL_GUEST_IDLE | HV_APIC_CTRL_NO_TIMER | \
			 HV_APIC_CTRL_IOAPIC_EOI)

#define SVR_MASK	0x3ffu		/* vector, enable, focus check; no EOI-broadcast suppression */
#define DFR_RES1	0x0fffffffu
#define XAPIC_ID_MASK	0xff000000u
#define ICR_LO_MASK	0x000ccfffu
#define ICR_LOGICAL	(1u << 11)
#define ICR_ASSERT	(1u << 14)
#define ICR_LEVEL	(1u << 15)
#define DCR_MASK	0xbu
#define ESR_VALID	0xefu		/* the SDM's ESR bits */

#define LVT_MASKED	(1u << 16)
#define LVT_VECTOR(l)	((uint8_t)(l))
#define LVT_DM(l)	(((l) >> 8) & 7)
#define LVT_TIMER_MODE(l)	(((l) >> 17) & 3)
#define TIMER_ONESHOT	0
#define TIMER_PERIODIC	1
#define TIMER_DEADLINE	2
#define TIMER_MODE_RES	3
#define TIMER_NONE	UINT64_MAX

/* Writable bits per LVT entry (SDM figure 11-8); delivery status and remote IRR read 0. */
static const uint32_t vlapic_lvt_mask[VLAPIC_LVT_COUNT] = {
	[VLAPIC_LVT_LINT0]	= 0x1a7ff,	/* vector, mode, polarity, trigger, mask */
	[VLAPIC_LVT_LINT1]	= 0x1a7ff,
	[VLAPIC_LVT_TIMER]	= 0x700ff,	/* vector, mask, timer mode */
	[VLAPIC_LVT_ERROR]	= 0x100ff,	/* vector, mask */
	[VLAPIC_LVT_PMC]	= 0x107ff,	/* vector, mode, mask */
	[VLAPIC_LVT_THERMAL]	= 0x107ff,
	[VLAPIC_LVT_CMCI]	= 0x107ff,
};

/* --- 256-bit vector sets ------------------------------------------------ */

static bool vec_test(const uint32_t *set, uint8_t v)
{
	return set[v >> 5] & (1u << (v & 31));
}

static void vec_set(uint32_t *set, uint8_t v, bool on)
{
	if (on)
		set[v >> 5] |= 1u << (v & 31);
	else
		set[v >> 5] &= ~(1u << (v & 31));
}

static int vec_highest(const uint32_t *set)
{
	int i;

	for (i = 7; i >= 0; i--)
		if (set[i])
			return i * 32 + 31 - __builtin_clz(set[i]);
	return -1;
}

/* --- state queries ----------------------------------------------------- */

uint64_t vlapic_apic_base(const struct vlapic *vl)
{
	return vl->apic_base;
}

static uint32_t vlapic_id_reg(const struct vlapic *vl)
{
	return vlapic_x2apic(vl) ? vl->vcpu : vl->xapic_id << 24;
}

/* x2APIC logical ID (SDM 11.12.10.2): cluster ID[19:4] in bits 31:16, bit ID[3:0]. */
static uint32_t vlapic_x2apic_ldr(const struct vlapic *vl)
{
	return ((vl->vcpu >> 4) << 16) | (1u << (vl->vcpu & 15));
}

/* PPR (SDM 11.8.3.1): TPR, or the ISRV class when that is higher. */
uint8_t vlapic_ppr(const struct vlapic *vl)
{
	int isrv = vec_highest(vl->isr);

	if (isrv < 0 || (vl->tpr & 0xf0) >= ((uint32_t)isrv & 0xf0))
		return (uint8_t)vl->tpr;
	return (uint8_t)(isrv & 0xf0);
}

void vlapic_target(const struct vlapic *vl, struct ipi_target *t, uint32_t src)
{
	*t = (struct ipi_target){
		.apic_id = vlapic_x2apic(vl) ? vl->vcpu : vl->xapic_id,
		.ldr = vl->ldr,
		.dfr = vl->dfr,
		.x2apic = vlapic_x2apic(vl),
		.self = vl->vcpu == src,
	};
}

static void vlapic_kick(struct vlapic *vl)
{
	const struct apic_env *env = vl->vi->env;

	if (env && env->kick)
		env->kick(env->ctx, vl->vcpu);
}

/* --- interrupt acceptance ----------------------------------------------- */

static void vlapic_set_irr(struct vlapic *vl, uint8_t vector, bool level, bool aeoi)
{
	vec_set(vl->irr, vector, true);
	vec_set(vl->posted, vector, true);
	vec_set(vl->tmr, vector, level);	/* TMR follows the latest acceptance (SDM 11.8.4) */
	vec_set(vl->aeoi, vector, aeoi);
	vlapic_kick(vl);
}

/* An error (SDM 11.5.3): recorded for the next ESR write, signalled through LVT ERROR. */
static void vlapic_error(struct vlapic *vl, uint32_t bits)
{
	uint32_t lvt = vl->lvt[VLAPIC_LVT_ERROR];

	vl->esr_pending |= bits;
	if (lvt & LVT_MASKED)
		return;
	if (LVT_VECTOR(lvt) < 16) {
		vl->esr_pending |= VLAPIC_ESR_RECV_ILLEGAL;	/* and no second error interrupt */
		return;
	}
	vlapic_set_irr(vl, LVT_VECTOR(lvt), false, false);
}

/* A fixed interrupt arrives: vectors 0-15 are illegal, a software-disabled LAPIC takes none (SDM 11.4.7.2). */
static bool vlapic_fixed(struct vlapic *vl, uint8_t vector, bool level, bool aeoi)
{
	if (vector < 16) {
		vlapic_error(vl, VLAPIC_ESR_RECV_ILLEGAL);
		return false;
	}
	if (!vlapic_sw_enabled(vl))
		return false;
	vlapic_set_irr(vl, vector, level, aeoi);
	return true;
}

static void vlapic_nmi(struct vlapic *vl)
{
	if (vl->nmi_pending < 2)
		vl->nmi_pending++;
	vlapic_kick(vl);
}

/* An LVT entry fires (timer expiry, LINT edge, trigger_lvt). */
static void vlapic_fire_lvt(struct vlapic *vl, enum vlapic_lvt idx)
{
	uint32_t lvt = vl->lvt[idx];
	unsigned dm = idx == VLAPIC_LVT_TIMER ? APIC_DM_FIXED : LVT_DM(lvt);

	if (lvt & LVT_MASKED)
		return;
	if (dm == APIC_DM_FIXED)
		vlapic_fixed(vl, LVT_VECTOR(lvt), false, false);
	else if (dm == APIC_DM_NMI)
		vlapic_nmi(vl);
	/* SMI and INIT are dropped; ExtINT follows the pin level (vlapic_extint_pending). */
}

int vlapic_pending(const struct vlapic *vl)
{
	int v;

	if (!vlapic_sw_enabled(vl))
		return -1;
	v = vec_highest(vl->irr);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (vlapic_ppr(vl) & 0xf0u))
		return -1;
	return v;
}

void vlapic_accept(struct vlapic *vl, uint8_t vector)
{
	vec_set(vl->irr, vector, false);
	if (vec_test(vl->aeoi, vector))
		vec_set(vl->aeoi, vector, false);	/* auto-EOI: never in service */
	else
		vec_set(vl->isr, vector, true);
}

bool vlapic_take_nmi(struct vlapic *vl)
{
	if (!vl->nmi_pending)
		return false;
	vl->nmi_pending--;
	return true;
}

void vlapic_nmi_blocked(struct vlapic *vl)
{
	if (vl->nmi_pending > 1)
		vl->nmi_pending = 1;
}

bool vlapic_extint_pending(const struct vlapic *vl)
{
	uint32_t lvt = vl->lvt[VLAPIC_LVT_LINT0];

	return vlapic_enabled(vl) && (vl->lint_level & 1) && LVT_DM(lvt) == APIC_DM_EXTINT && !(lvt & LVT_MASKED);
}

uint8_t vlapic_get_tpr(const struct vlapic *vl)
{
	return (uint8_t)(vl->tpr >> 4);
}

/* MOV to CR8 writes TPR[7:4] and clears TPR[3:0] (SDM 11.8.6.1). */
void vlapic_set_tpr(struct vlapic *vl, uint8_t cr8)
{
	vl->tpr = (cr8 & 0xfu) << 4;
	vl->regs_gen++;
}

void vlapic_lint(struct vlapic *vl, unsigned pin, bool level)
{
	enum vlapic_lvt idx = pin ? VLAPIC_LVT_LINT1 : VLAPIC_LVT_LINT0;
	bool was = vl->lint_level & (1u << pin);

	if (level)
		vl->lint_level |= (uint8_t)(1u << pin);
	else
		vl->lint_level &= (uint8_t)~(1u << pin);
	if (!vlapic_enabled(vl))
		return;
	if (LVT_DM(vl->lvt[idx]) == APIC_DM_EXTINT) {
		if (vlapic_extint_pending(vl))
			vlapic_kick(vl);
		return;
	}
	if (level && !was)
		vlapic_fire_lvt(vl, idx);
}

/* --- reset -------------------------------------------------------------- */

/* INIT reset keeps the ID (SDM 11.4.7.3); power-up (and hardware disable) restores it too. */
static void vlapic_reset(struct vlapic *vl, bool power_up)
{
	struct vlapic keep = *vl;
	int i;

	*vl = (struct vlapic){
		.vi = keep.vi,
		.vcpu = keep.vcpu,
		.xapic_id = power_up ? keep.vcpu & 0xff : keep.xapic_id,
		.apic_base = keep.apic_base,
		.ctrl = keep.ctrl,
		.boot_state = keep.boot_state,
		.lint_level = keep.lint_level,
		.dfr = 0xffffffffu,
		.svr = 0xff,
		.timer_deadline = TIMER_NONE,
		.regs_gen = keep.regs_gen + 1,
	};
	for (i = 0; i < VLAPIC_LVT_COUNT; i++)
		vl->lvt[i] = LVT_MASKED;
	if (vlapic_x2apic(vl))
		vl->ldr = vlapic_x2apic_ldr(vl);
}

void vlapic_init(struct vlapic *vl, struct vintr *vi, uint32_t id)
{
	*vl = (struct vlapic){
		.vi = vi,
		.vcpu = id,
		.apic_base = VLAPIC_BASE_DEFAULT | VLAPIC_BASE_EN | (id == 0 ? VLAPIC_BASE_BSP : 0),
		.boot_state = id == 0 ? HV_BS_RUNNING : HV_BS_INIT,
	};
	vlapic_reset(vl, true);
}

/* --- timer (SDM 11.5.4) ------------------------------------------------- */

static unsigned vlapic_timer_mode(const struct vlapic *vl)
{
	return LVT_TIMER_MODE(vl->lvt[VLAPIC_LVT_TIMER]);
}

/* DCR bits 3,1:0: 0 -> /2 ... 6 -> /128, 7 -> /1. */
static uint32_t vlapic_divide(const struct vlapic *vl)
{
	uint32_t v = ((vl->dcr_timer & 8) >> 1) | (vl->dcr_timer & 3);

	return 1u << ((v + 1) & 7);
}

static void vlapic_timer_stop(struct vlapic *vl)
{
	vl->timer_deadline = TIMER_NONE;
}

/* Count `count` down from `now`; reloads (periodic) count icr_timer. */
static void vlapic_timer_start(struct vlapic *vl, uint32_t count, uint64_t now)
{
	uint32_t div = vlapic_divide(vl);
	uint64_t ticks;

	vlapic_timer_stop(vl);
	if ((vl->ctrl & HV_APIC_CTRL_NO_TIMER) || count == 0)
		return;
	ticks = vintr_ticks(vl->vi, count, div);
	vl->timer_ref_tsc = now;
	vl->timer_ref_count = count;
	vl->timer_period = vintr_ticks(vl->vi, vl->icr_timer, div);
	vl->timer_deadline = ticks < TIMER_NONE - 1 - now ? now + ticks : TIMER_NONE - 1;
}

static void vlapic_timer_arm_deadline(struct vlapic *vl)
{
	vlapic_timer_stop(vl);
	if (!(vl->ctrl & HV_APIC_CTRL_NO_TIMER) && vlapic_timer_mode(vl) == TIMER_DEADLINE && vl->tsc_deadline)
		vl->timer_deadline = vl->tsc_deadline;
}

static uint32_t vlapic_ccr(const struct vlapic *vl, uint64_t now)
{
	uint64_t elapsed, base, c;

	if (vl->timer_deadline == TIMER_NONE || vlapic_timer_mode(vl) == TIMER_DEADLINE)
		return 0;
	if (now >= vl->timer_deadline) {
		/* Due but not yet checked: a periodic count has reloaded. */
		if (vlapic_timer_mode(vl) != TIMER_PERIODIC || !vl->timer_period)
			return 0;
		elapsed = (now - vl->timer_deadline) % vl->timer_period;
		base = vl->icr_timer;
	} else {
		elapsed = now > vl->timer_ref_tsc ? now - vl->timer_ref_tsc : 0;
		base = vl->timer_ref_count;
	}
	c = vintr_counts(vl->vi, elapsed, vlapic_divide(vl));
	/* A count that runs reads at least 1: 0 is a stopped timer, which put_state keeps stopped. */
	return c < base ? (uint32_t)(base - c) : 1;
}

uint64_t vlapic_deadline(const struct vlapic *vl)
{
	return (vl->ctrl & HV_APIC_CTRL_NO_TIMER) ? TIMER_NONE : vl->timer_deadline;
}

void vlapic_timer_check(struct vlapic *vl, uint64_t now)
{
	uint64_t d = vl->timer_deadline, p = vl->timer_period, n;

	if (d == TIMER_NONE || now < d)
		return;
	switch (vlapic_timer_mode(vl)) {
	case TIMER_PERIODIC:
		if (!p) {
			vlapic_timer_stop(vl);
			break;
		}
		n = (now - d) / p + 1;		/* next = prev + period, missed periods skipped */
		if (n > (TIMER_NONE - 1 - d) / p) {
			vlapic_timer_stop(vl);
			break;
		}
		vl->timer_deadline = d + n * p;
		vl->timer_ref_tsc = vl->timer_deadline - p;
		vl->timer_ref_count = vl->icr_timer;
		break;
	case TIMER_DEADLINE:
		vl->tsc_deadline = 0;		/* the MSR clears when it fires */
		vlapic_timer_stop(vl);
		break;
	default:
		vlapic_timer_stop(vl);
	}
	vlapic_fire_lvt(vl, VLAPIC_LVT_TIMER);
}

hv_return_t vlapic_trigger_lvt(struct vlapic *vl, hv_apic_lvt_flavor_t flavor)
{
	if (flavor != HV_APIC_LVT_FLAVOR_TIMER)
		return HV_BAD_ARGUMENT;
	vlapic_fire_lvt(vl, VLAPIC_LVT_TIMER);
	return HV_SUCCESS;
}

void vlapic_set_ctrl(struct vlapic *vl, hv_apic_ctrl_t ctrl)
{
	vl->ctrl = ctrl;
	vl->regs_gen++;
	if (ctrl & HV_APIC_CTRL_NO_TIMER)
		vlapic_timer_stop(vl);
	else if (vlapic_timer_mode(vl) == TIMER_DEADLINE)
		vlapic_timer_arm_deadline(vl);
}

/* --- register handlers -------------------------------------------------- */

void vlapic_eoi_done(struct vlapic *vl, uint8_t vector, struct vlapic_effect *eff)
{
	if (!vec_test(vl->tmr, vector))
		return;
	if (vl->ctrl & HV_APIC_CTRL_IOAPIC_EOI) {
		eff->exitinfo = HV_VM_EXITINFO_IOAPIC_EOI;
		eff->vector = vector;
	} else if (vl->vi->eoi_level) {
		vl->vi->eoi_level(vl->vi->eoi_arg, vector);
	}
}

static void vlapic_eoi(struct vlapic *vl, struct vlapic_effect *eff)
{
	int v = vec_highest(vl->isr);

	if (v < 0)
		return;
	vec_set(vl->isr, (uint8_t)v, false);
	vlapic_eoi_done(vl, (uint8_t)v, eff);
}

static void vlapic_svr_write(struct vlapic *vl, uint32_t val)
{
	int i;

	vl->svr = val & SVR_MASK;
	if (!(vl->svr & VLAPIC_SVR_ENABLE))
		for (i = 0; i < VLAPIC_LVT_COUNT; i++)
			vl->lvt[i] |= LVT_MASKED;	/* software disable masks every LVT (SDM 11.4.7.2) */
}

/* ESR is write-to-latch (SDM 11.5.3). */
static void vlapic_esr_write(struct vlapic *vl)
{
	vl->esr = vl->esr_pending;
	vl->esr_pending = 0;
}

static void vlapic_lvt_write(struct vlapic *vl, enum vlapic_lvt idx, uint32_t val)
{
	unsigned old_mode = vlapic_timer_mode(vl), mode;

	val &= vlapic_lvt_mask[idx];
	if (idx == VLAPIC_LVT_TIMER && LVT_TIMER_MODE(val) == TIMER_MODE_RES)
		val &= ~(3u << 17);
	if (!(vl->svr & VLAPIC_SVR_ENABLE))
		val |= LVT_MASKED;
	vl->lvt[idx] = val;
	if (idx == VLAPIC_LVT_LINT0 && vlapic_extint_pending(vl))
		vlapic_kick(vl);
	if (idx != VLAPIC_LVT_TIMER)
		return;
	mode = vlapic_timer_mode(vl);
	if (mode != old_mode && (mode == TIMER_DEADLINE || old_mode == TIMER_DEADLINE)) {
		vlapic_timer_stop(vl);
		vl->icr_timer = 0;
		vl->tsc_deadline = 0;
	}
}

static void vlapic_send_ipi(struct vlapic *vl, struct vlapic_effect *eff)
{
	uint32_t lo = vl->icr_lo;
	struct apic_msg m = {
		.dest = vlapic_x2apic(vl) ? vl->icr_hi : vl->icr_hi >> 24,
		.vector = (uint8_t)lo,
		.mode = (lo >> 8) & 7,
		.shorthand = (lo >> 18) & 3,
		.logical = lo & ICR_LOGICAL,
		.assert = lo & ICR_ASSERT,
		.src = vl->vcpu,
	};

	/* The trigger bit only qualifies INIT de-assert; IPIs are edge. */
	m.level = m.mode == APIC_DM_INIT && (lo & ICR_LEVEL);
	if ((m.mode == APIC_DM_FIXED || m.mode == APIC_DM_LOWPRI) && m.vector < 16) {
		vlapic_error(vl, VLAPIC_ESR_SEND_ILLEGAL);
		return;
	}
	vintr_send(vl->vi, &m, vlapic_x2apic(vl), eff);
}

static void vlapic_timer_icr_write(struct vlapic *vl, uint32_t val, uint64_t now)
{
	if (vlapic_timer_mode(vl) == TIMER_DEADLINE)
		return;		/* ignored in TSC-deadline mode */
	vl->icr_timer = val;
	vlapic_timer_start(vl, val, now);
}

/* A new divider applies to the counts still to go. */
static void vlapic_timer_dcr_write(struct vlapic *vl, uint32_t val, uint64_t now)
{
	uint32_t left = vlapic_ccr(vl, now);
	bool counting = vl->timer_deadline != TIMER_NONE && now < vl->timer_deadline &&
			vlapic_timer_mode(vl) != TIMER_DEADLINE;

	vl->dcr_timer = val & DCR_MASK;
	if (counting && left)
		vlapic_timer_start(vl, left, now);
}

static int vlapic_lvt_index(uint32_t offset)
{
	switch (offset) {
	case APIC_LVT_CMCI:	return VLAPIC_LVT_CMCI;
	case APIC_LVT_TIMER:	return VLAPIC_LVT_TIMER;
	case APIC_LVT_THERM:	return VLAPIC_LVT_THERMAL;
	case APIC_LVT_PMC:	return VLAPIC_LVT_PMC;
	case APIC_LVT_LINT0:	return VLAPIC_LVT_LINT0;
	case APIC_LVT_LINT1:	return VLAPIC_LVT_LINT1;
	case APIC_LVT_ERROR:	return VLAPIC_LVT_ERROR;
	}
	return -1;
}

/* One register by page offset; false for offsets with no register. */
static bool vlapic_reg(const struct vlapic *vl, uint32_t offset, uint64_t now, uint32_t *val)
{
	int lvt = vlapic_lvt_index(offset);

	if (lvt >= 0) {
		*val = vl->lvt[lvt];
		return true;
	}
	switch (offset) {
	case APIC_ID:		*val = vlapic_id_reg(vl); break;
	case APIC_VER:		*val = VLAPIC_VERSION; break;
	case APIC_TPR:		*val = vl->tpr; break;
	case APIC_APR:		*val = 0; break;
	case APIC_PPR:		*val = vlapic_ppr(vl); break;
	case APIC_EOI:		*val = 0; break;
	case APIC_RRD:		*val = 0; break;
	case APIC_LDR:		*val = vl->ldr; break;
	case APIC_DFR:		*val = vl->dfr; break;
	case APIC_SVR:		*val = vl->svr; break;
	case APIC_ISR ... APIC_ISR + 0x70:	*val = vl->isr[(offset - APIC_ISR) >> 4]; break;
	case APIC_TMR ... APIC_TMR + 0x70:	*val = vl->tmr[(offset - APIC_TMR) >> 4]; break;
	case APIC_IRR ... APIC_IRR + 0x70:	*val = vl->irr[(offset - APIC_IRR) >> 4]; break;
	case APIC_ESR:		*val = vl->esr; break;
	case APIC_ICR_LO:	*val = vl->icr_lo; break;
	case APIC_ICR_HI:	*val = vl->icr_hi; break;
	case APIC_TIMER_ICR:	*val = vl->icr_timer; break;
	case APIC_TIMER_CCR:	*val = vlapic_ccr(vl, now); break;
	case APIC_TIMER_DCR:	*val = vl->dcr_timer; break;
	default:
		return false;
	}
	return true;
}

/* A write the caller has checked (x2APIC) or that the page allows; read-only registers ignore it. */
static void vlapic_reg_write(struct vlapic *vl, uint32_t offset, uint32_t val, uint64_t now,
			     struct vlapic_effect *eff)
{
	int lvt = vlapic_lvt_index(offset);
	bool x2apic = vlapic_x2apic(vl);

	if (lvt >= 0) {
		vlapic_lvt_write(vl, (enum vlapic_lvt)lvt, val);
		return;
	}
	switch (offset) {
	case APIC_ID:
		if (!x2apic)
			vl->xapic_id = val >> 24;
		break;
	case APIC_TPR:
		vl->tpr = val & 0xff;
		break;
	case APIC_EOI:
		vlapic_eoi(vl, eff);
		break;
	case APIC_LDR:
		if (!x2apic)
			vl->ldr = val & XAPIC_ID_MASK;
		break;
	case APIC_DFR:
		if (!x2apic)
			vl->dfr = (val & ~DFR_RES1) | DFR_RES1;
		break;
	case APIC_SVR:
		vlapic_svr_write(vl, val);
		break;
	case APIC_ESR:
		vlapic_esr_write(vl);
		break;
	case APIC_ICR_LO:
		vl->icr_lo = val & ICR_LO_MASK;
		vlapic_send_ipi(vl, eff);
		break;
	case APIC_ICR_HI:
		vl->icr_hi = x2apic ? val : val & XAPIC_ID_MASK;
		break;
	case APIC_TIMER_ICR:
		vlapic_timer_icr_write(vl, val, now);
		break;
	case APIC_TIMER_DCR:
		vlapic_timer_dcr_write(vl, val, now);
		break;
	}
}

static struct vlapic_effect *vlapic_effect_reset(struct vlapic_effect *eff, struct vlapic_effect *local)
{
	if (!eff)
		eff = local;
	*eff = (struct vlapic_effect){ 0 };
	return eff;
}

uint32_t vlapic_read(struct vlapic *vl, uint32_t offset, uint64_t now)
{
	uint32_t val;

	if (!vlapic_enabled(vl) || (offset & 0xf) || !vlapic_reg(vl, offset, now, &val))
		return 0;
	return val;
}

bool vlapic_write(struct vlapic *vl, uint32_t offset, uint32_t val, uint64_t now, struct vlapic_effect *eff)
{
	struct vlapic_effect local;

	eff = vlapic_effect_reset(eff, &local);
	vl->regs_gen++;
	if (vlapic_enabled(vl) && !(offset & 0xf))
		vlapic_reg_write(vl, offset, val, now, eff);
	return eff->exitinfo == 0;
}

/* --- MSRs --------------------------------------------------------------- */

/* IA32_APIC_BASE (SDM 11.12.5): the legal EN/EXTD transitions. */
static bool vlapic_base_write(struct vlapic *vl, uint64_t val)
{
	uint64_t old = vl->apic_base;
	bool en = val & VLAPIC_BASE_EN, extd = val & VLAPIC_BASE_EXTD;

	if ((val & ~(vl->vi->base_mask | BASE_FLAGS)) || (extd && !en))
		return false;
	if ((old & VLAPIC_BASE_EXTD) && en && !extd)
		return false;		/* x2APIC -> xAPIC */
	if (!(old & VLAPIC_BASE_EN) && extd)
		return false;		/* disabled -> x2APIC */
	vl->apic_base = (val & ~VLAPIC_BASE_BSP) | (old & VLAPIC_BASE_BSP);
	if ((old & VLAPIC_BASE_EN) && !en)
		vlapic_reset(vl, true);	/* hardware disable loses the state */
	else if (extd && !(old & VLAPIC_BASE_EXTD))
		vl->ldr = vlapic_x2apic_ldr(vl);
	return true;
}

static bool vlapic_x2apic_rdmsr(struct vlapic *vl, uint32_t offset, uint64_t *val, uint64_t now)
{
	uint32_t v;

	switch (offset) {
	case APIC_APR:
	case APIC_EOI:
	case APIC_RRD:
	case APIC_DFR:
	case APIC_ICR_HI:
		return false;		/* absent or write-only in x2APIC mode */
	case APIC_ICR_LO:
		*val = (uint64_t)vl->icr_hi << 32 | vl->icr_lo;
		return true;
	}
	if (!vlapic_reg(vl, offset, now, &v))
		return false;
	*val = v;
	return true;
}

/* x2APIC writes: reserved bits, read-only and absent registers #GP (SDM 11.12.1.2). */
static bool vlapic_x2apic_wrmsr(struct vlapic *vl, uint32_t offset, uint64_t val, uint64_t now,
				struct vlapic_effect *eff)
{
	int lvt = vlapic_lvt_index(offset);

	if (offset == APIC_ICR_LO) {
		if (val & ~(0xffffffff00000000ull | ICR_LO_MASK))
			return false;
		vl->icr_hi = (uint32_t)(val >> 32);
		vl->icr_lo = (uint32_t)val;
		vlapic_send_ipi(vl, eff);
		return true;
	}
	if (val >> 32)
		return false;
	if (lvt >= 0) {
		if ((val & ~vlapic_lvt_mask[lvt]) ||
		    (lvt == VLAPIC_LVT_TIMER && LVT_TIMER_MODE(val) == TIMER_MODE_RES))
			return false;
	} else {
		switch (offset) {
		case APIC_TPR:
			if (val & ~0xffull)
				return false;
			break;
		case APIC_EOI:
		case APIC_ESR:
			if (val)
				return false;
			break;
		case APIC_SVR:
			if (val & ~(uint64_t)SVR_MASK)
				return false;
			break;
		case APIC_TIMER_ICR:
			break;
		case APIC_TIMER_DCR:
			if (val & ~(uint64_t)DCR_MASK)
				return false;
			break;
		case APIC_SELF_IPI:
			if (val & ~0xffull)
				return false;
			vlapic_fixed(vl, (uint8_t)val, false, false);
			return true;
		default:
			return false;
		}
	}
	vlapic_reg_write(vl, offset, (uint32_t)val, now, eff);
	return true;
}

bool vlapic_rdmsr(struct vlapic *vl, uint32_t msr, uint64_t *val, uint64_t now)
{
	switch (msr) {
	case MSR_APIC_BASE:
		*val = vl->apic_base;
		return true;
	case MSR_TSC_DEADLINE:
		*val = vlapic_timer_mode(vl) == TIMER_DEADLINE ? vl->tsc_deadline : 0;
		return true;
	}
	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !vlapic_x2apic(vl))
		return false;
	return vlapic_x2apic_rdmsr(vl, (msr - MSR_X2APIC_FIRST) << 4, val, now);
}

bool vlapic_wrmsr(struct vlapic *vl, uint32_t msr, uint64_t val, uint64_t now, struct vlapic_effect *eff)
{
	struct vlapic_effect local;

	eff = vlapic_effect_reset(eff, &local);
	/* The ICR, the initial count and the deadline are written often: apicv_load_hot's, not a reload's. */
	if (msr != MSR_X2APIC_FIRST + (APIC_ICR_LO >> 4) && msr != MSR_X2APIC_FIRST + (APIC_TIMER_ICR >> 4) &&
	    msr != MSR_X2APIC_FIRST + (APIC_SELF_IPI >> 4) && msr != MSR_TSC_DEADLINE)
		vl->regs_gen++;
	switch (msr) {
	case MSR_APIC_BASE:
		return vlapic_base_write(vl, val);
	case MSR_TSC_DEADLINE:
		if (vlapic_timer_mode(vl) == TIMER_DEADLINE) {
			vl->tsc_deadline = val;
			vlapic_timer_arm_deadline(vl);
		}
		return true;
	}
	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !vlapic_x2apic(vl))
		return false;
	return vlapic_x2apic_wrmsr(vl, (msr - MSR_X2APIC_FIRST) << 4, val, now, eff);
}

/* --- messages from the bus ---------------------------------------------- */

bool vlapic_receive(struct vlapic *vl, const struct apic_msg *m, bool aeoi)
{
	if (!vlapic_enabled(vl))
		return false;
	switch (m->mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWPRI:
		return vlapic_fixed(vl, m->vector, m->level, aeoi);
	case APIC_DM_NMI:
		vlapic_nmi(vl);
		return true;
	case APIC_DM_INIT:
		if (m->level && !m->assert)
			return false;	/* INIT level de-assert */
		vlapic_reset(vl, false);
		vl->boot_state = HV_BS_SIPI;
		vlapic_kick(vl);
		return true;
	case APIC_DM_STARTUP:
		if (vl->boot_state != HV_BS_SIPI)
			return false;
		vl->boot_state = HV_BS_RUNNING;
		vlapic_kick(vl);
		return true;
	}
	return false;
}

/* --- saved state -------------------------------------------------------- */

void vlapic_get_state(const struct vlapic *vl, struct hv_apic_state *s, uint64_t now)
{
	int i;

	*s = (struct hv_apic_state){
		.apic_gpa = vl->apic_base & BASE_ADDR_MASK,
		.apic_controls = vl->ctrl,
		.tsc_deadline = vl->tsc_deadline,
		.apic_id = vlapic_id_reg(vl),
		.ver = VLAPIC_VERSION,
		.tpr = vl->tpr,
		.ldr = vl->ldr,
		.dfr = vl->dfr,
		.svr = vl->svr,
		.esr = vl->esr,
		.icr = { vl->icr_lo, vl->icr_hi },
		.icr_timer = vl->icr_timer,
		.dcr_timer = vl->dcr_timer,
		.ccr_timer = vlapic_ccr(vl, now),
		.esr_pending = vl->esr_pending,
		.boot_state = (enum hv_boot_state)vl->boot_state,
	};
	for (i = 0; i < 8; i++) {
		s->isr[i] = vl->isr[i];
		s->tmr[i] = vl->tmr[i];
		s->irr[i] = vl->irr[i];
		s->aeoi[i] = vl->aeoi[i];
	}
	for (i = 0; i < VLAPIC_LVT_COUNT; i++)
		s->lvt[i] = vl->lvt[i];
}

static bool vlapic_state_lvt_ok(const struct hv_apic_state *s)
{
	int i;

	for (i = 0; i < VLAPIC_LVT_COUNT; i++) {
		if (s->lvt[i] & ~vlapic_lvt_mask[i])
			return false;
		if (!(s->svr & VLAPIC_SVR_ENABLE) && !(s->lvt[i] & LVT_MASKED))
			return false;
	}
	return LVT_TIMER_MODE(s->lvt[VLAPIC_LVT_TIMER]) != TIMER_MODE_RES;
}

static bool vlapic_state_vectors_ok(const struct hv_apic_state *s)
{
	int i;

	if ((s->isr[0] | s->tmr[0] | s->irr[0] | s->aeoi[0]) & 0xffff)
		return false;		/* vectors 0-15 never get there */
	for (i = 0; i < 8; i++)
		if (s->aeoi[i] & ~s->irr[i])
			return false;
	return true;
}

static bool vlapic_state_timer_ok(const struct hv_apic_state *s)
{
	bool deadline = LVT_TIMER_MODE(s->lvt[VLAPIC_LVT_TIMER]) == TIMER_DEADLINE;

	if (s->dcr_timer & ~DCR_MASK || s->ccr_timer > s->icr_timer)
		return false;
	/* Under NO_TIMER the count never runs: CCR reads 0, and a state saying otherwise is not one. */
	if ((s->apic_controls & HV_APIC_CTRL_NO_TIMER) && s->ccr_timer)
		return false;
	return deadline ? s->ccr_timer == 0 : s->tsc_deadline == 0;
}

static bool vlapic_state_ok(const struct vlapic *vl, const struct hv_apic_state *s)
{
	bool x2apic = vlapic_x2apic(vl);

	if ((s->apic_controls & ~(uint64_t)CTRL_KNOWN) || (s->apic_gpa & ~vl->vi->base_mask))
		return false;
	if (x2apic ? s->apic_id != vl->vcpu || s->ldr != vlapic_x2apic_ldr(vl) :
		     (s->apic_id | s->ldr | s->icr[1]) & ~XAPIC_ID_MASK)
		return false;
	if (s->ver != VLAPIC_VERSION || s->apr || (s->dfr & DFR_RES1) != DFR_RES1 || (s->tpr & ~0xffu) ||
	    (s->svr & ~SVR_MASK) || (s->icr[0] & ~ICR_LO_MASK))
		return false;
	if ((s->esr | s->esr_pending) & ~ESR_VALID || s->boot_state > HV_BS_RUNNING)
		return false;
	return vlapic_state_lvt_ok(s) && vlapic_state_vectors_ok(s) && vlapic_state_timer_ok(s);
}

hv_return_t vlapic_put_state(struct vlapic *vl, const struct hv_apic_state *s, uint64_t now)
{
	unsigned mode;
	int i;

	if (!vlapic_state_ok(vl, s))
		return HV_BAD_ARGUMENT;
	vl->regs_gen++;
	vl->apic_base = (vl->apic_base & ~BASE_ADDR_MASK) | s->apic_gpa;
	vl->ctrl = s->apic_controls;
	if (!vlapic_x2apic(vl))
		vl->xapic_id = s->apic_id >> 24;
	vl->tpr = s->tpr;
	vl->ldr = s->ldr;
	vl->dfr = s->dfr;
	vl->svr = s->svr;
	for (i = 0; i < 8; i++) {
		vl->isr[i] = s->isr[i];
		vl->tmr[i] = s->tmr[i];
		vl->irr[i] = s->irr[i];
		vl->aeoi[i] = s->aeoi[i];
	}
	for (i = 0; i < VLAPIC_LVT_COUNT; i++)
		vl->lvt[i] = s->lvt[i];
	vl->esr = s->esr;
	vl->esr_pending = s->esr_pending;
	vl->icr_lo = s->icr[0];
	vl->icr_hi = s->icr[1];
	vl->icr_timer = s->icr_timer;
	vl->dcr_timer = s->dcr_timer;
	vl->boot_state = s->boot_state;
	vl->tsc_deadline = s->tsc_deadline;
	mode = vlapic_timer_mode(vl);
	if (mode == TIMER_DEADLINE)
		vlapic_timer_arm_deadline(vl);
	else if (s->ccr_timer)
		vlapic_timer_start(vl, s->ccr_timer, now);
	else
		vlapic_timer_stop(vl);	/* a current count of 0 is a stopped timer, periodic or not */
	return HV_SUCCESS;
}
