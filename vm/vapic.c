#include "kernel/cpu.h"
#include "kernel/host.h"
#include "kernel/pool.h"
#include "kernel/string.h"
#include "vapic.h"
#include "vcpu.h"
#include "vcpu_run.h"
#include "vm.h"
#include "vmx/vmx_cpu.h"

_Static_assert(sizeof(struct vapic) <= PAGE_SIZE, "one pool page per VM");
_Static_assert(VINTR_VCPUS == VM_VCPUS_MAX, "the bus has a slot per vCPU");

/* The models call this under the lock: the vCPU is told once the lock is dropped. */
static void vapic_kick(void *ctx, uint32_t vcpu)
{
	struct vapic *a = ctx;

	if (vcpu < VM_VCPUS_MAX)
		a->to_notify |= 1ull << vcpu;
}

/* The IOAPIC's messages go out on the VM's bus. */
static void vapic_ioapic_deliver(void *arg, const struct apic_msg *m)
{
	struct vapic *a = arg;

	vintr_deliver(&a->vi, m, NULL);
}

/* A local APIC's EOI of a level-triggered vector, back to the IOAPIC's remote IRR. */
static void vapic_eoi_level(void *arg, uint8_t vector)
{
	struct vapic *a = arg;

	vioapic_eoi(&a->ioapic, vector);
}

/* The 8259 pair's INTR is wired to LINT0 of every local APIC (docs/apic.md). */
static void vapic_atpic_intr(void *arg, bool level)
{
	struct vapic *a = arg;

	vintr_lint(&a->vi, 0, level);
}

struct vapic *vapic_create(void)
{
	struct vapic *a = pool_alloc_page(&host_pool);

	if (!a)
		return NULL;
	memset(a, 0, sizeof(*a));
	a->env = (struct apic_env){ .ctx = a, .kick = vapic_kick };
	vintr_init(&a->vi, &a->env, vmx_tsc_hz());
	vintr_set_maxphyaddr(&a->vi, cpuid(0x80000008, 0).eax & 0xff);
	a->vi.eoi_level = vapic_eoi_level;
	a->vi.eoi_arg = a;
	vioapic_init(&a->ioapic, vapic_ioapic_deliver, a);
	vatpic_init(&a->atpic, vapic_atpic_intr, a);
	return a;
}

void vapic_destroy(struct vapic *a)
{
	pool_free_pages(&host_pool, a, 1);
}

void vapic_lock(struct vapic *a)
{
	spin_lock(&a->lock);
}

void vapic_unlock(struct vapic *a)
{
	uint64_t notify = a->to_notify;

	a->to_notify = 0;
	spin_unlock(&a->lock);
	for (; notify; notify &= notify - 1) {
		struct vcpu *v = __atomic_load_n(&a->vm->vcpus[__builtin_ctzll(notify)], __ATOMIC_ACQUIRE);

		if (v)
			vcpu_notify(v);
	}
}
