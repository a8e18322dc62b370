/*
 * The hypercall storm (issue 9): every CPU at once issues random hypercalls with
 * random numbers and arguments — handles live, stale and invented, pointers into
 * hvmetal, unmapped, huge or crossing a page, sizes from 0 to ~0 — while the VMs,
 * spaces, maps and vCPUs they name are created, destroyed and run on the other
 * CPUs. Afterwards everything the storm created is destroyed: hvmetal must not
 * have panicked or hung, its pool must be back where it was and SELFCHECK intact.
 */
#include <efi.h>
#include <efilib.h>
#include <hvmetal/hvmetal.h>
#include "hvtest_storm.h"
#include "kernel/cpu.h"
#include "kernel/string.h"
#include "tap.h"

#define STORM_CPUS	64
#define SCRATCH_PAGES	4	/* and one guard page after them: copies that cross the end land there */
#define HANDLES		1024	/* every VM handle the storm was given, for the clean-up */
#define VCPUS_PER_VM	64
#define STORM_WAIT_TICKS	(1ull << 38)	/* for the APs after the boot CPU's share */

struct storm {
	EFI_MP_SERVICES_PROTOCOL *mp;
	uint32_t calls;			/* per CPU */
	uint64_t region_base, region_size, canary;
	uint8_t *scratch[STORM_CPUS];	/* each CPU's buffers: the only memory hvmetal may write */
	uint64_t handles[HANDLES];
	uint32_t nhandles;		/* atomics */
	uint64_t done[STORM_CPUS];	/* calls made, per CPU */
	uint64_t created[STORM_CPUS];	/* VMs created, per CPU */
	uint32_t finished;		/* APs done with their storm and clean-up (atomics) */
};

static struct storm storm;

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A handle: one the storm was given (perhaps destroyed since), or an invented one. */
static uint64_t pick_handle(uint64_t *rng)
{
	uint32_t n = __atomic_load_n(&storm.nhandles, __ATOMIC_ACQUIRE);
	uint64_t r = next(rng);

	if (n && (r & 3))
		return storm.handles[(r >> 8) % n];
	return (r & 4) ? (r >> 16) & 0x3ff : r;
}

/* A pointer: this CPU's scratch (whole, or crossing its end), hvmetal's memory, or garbage. */
static uint64_t pick_ptr(uint64_t *rng, unsigned cpu)
{
	uint64_t s = (uintptr_t)storm.scratch[cpu], r = next(rng);

	switch (r % 8) {
	case 0: case 1: return s + ((r >> 8) & 0xff8);
	case 2: return s + SCRATCH_PAGES * 4096 - 8;
	case 3: return storm.canary + ((r >> 8) & 0xfff);
	case 4: return storm.region_base + ((r >> 8) % storm.region_size);
	case 5: return 0x0000800000000000ull + (r >> 40);	/* non-canonical */
	case 6: return 0xdead00000000ull;			/* beyond RAM */
	default: return ~0ull - (r & 0xfff);
	}
}

static uint64_t pick_value(uint64_t *rng)
{
	static const uint64_t special[] = { 0, 1, 2, 3, 0x1000, 0x200000, 0x40000000, 0x7fffffff,
					    0xffffffff, 1ull << 47, ~0ull, ~0ull - 0xfff };
	uint64_t r = next(rng);

	switch (r % 4) {
	case 0: return special[(r >> 8) % (sizeof(special) / sizeof(special[0]))];
	case 1: return (r >> 8) & 0xff;
	case 2: return (r >> 8) & 0xffff;
	default: return next(rng);
	}
}

/* Map sizes stay small enough to keep the storm short; garbage sizes fail fast. */
static uint64_t pick_size(uint64_t *rng)
{
	static const uint64_t sizes[] = { 0, 1, 0x1000, 0x2000, 0x4000, 0x200000, 0xfff, ~0ull,
					  1ull << 40 };

	return sizes[next(rng) % (sizeof(sizes) / sizeof(sizes[0]))];
}

static uint64_t pick_arg(uint64_t *rng, unsigned cpu)
{
	switch (next(rng) % 3) {
	case 0: return pick_handle(rng);
	case 1: return pick_ptr(rng, cpu);
	default: return pick_value(rng);
	}
}

static hv_return_t vmcall(uint64_t nr, uint64_t *a)
{
	register uint64_t r8 __asm__("r8") = a[4], r9 __asm__("r9") = a[5];
	uint64_t rax = nr, rdi = a[0], rsi = a[1], rdx = a[2], rcx = a[3];

	__asm__ volatile("vmcall" : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+c"(rcx),
			 "+r"(r8), "+r"(r9) : : "memory", "cc", "r10", "r11");
	a[2] = rdx;
	return (hv_return_t)rax;
}

static void remember(uint64_t handle, unsigned cpu)
{
	uint32_t i = __atomic_fetch_add(&storm.nhandles, 1, __ATOMIC_ACQ_REL);

	if (i < HANDLES)
		__atomic_store_n(&storm.handles[i], handle, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&storm.nhandles, HANDLES, __ATOMIC_RELEASE);
	storm.created[cpu]++;
}

static void one_call(uint64_t *rng, unsigned cpu)
{
	uint64_t r = next(rng), a[6], nr;
	hv_return_t ret;

	/* Mostly the calls hvmetal has (VM and vCPU calls most of all), sometimes any number. */
	nr = (r & 0xf) == 0 ? next(rng) : (r & 0xf) == 1 ? (r >> 8) % (HVMETAL_HC_COUNT + 16) :
	     HVMETAL_HC_CAPABILITY + (r >> 8) % (HVMETAL_HC_COUNT - HVMETAL_HC_CAPABILITY);
	for (unsigned i = 0; i < 6; i++)
		a[i] = pick_arg(rng, cpu);
	switch (nr) {
	case HVMETAL_HC_VM_CREATE:
		a[0] = (r >> 20) & 1 ? pick_value(rng) : 0;
		break;
	case HVMETAL_HC_VM_MAP:
		a[4] = pick_size(rng);
		break;
	case HVMETAL_HC_VCPU_RUN:
		/*
		 * A run the VMM asks to last for ever lasts for ever: APs take no
		 * interrupts here. Every valid mode becomes run_until a deadline.
		 */
		if (!(a[3] & ~(uint64_t)(HVMETAL_RUN_MODE | HVMETAL_RUN_SET_RIP)) &&
		    (a[3] & HVMETAL_RUN_MODE) <= HVMETAL_RUN_UNTIL) {
			a[3] = (a[3] & HVMETAL_RUN_SET_RIP) | HVMETAL_RUN_UNTIL;
			a[2] = rdtsc() + 200000;
		}
		break;
	}
	ret = vmcall(nr, a);
	if (nr == HVMETAL_HC_VM_CREATE && ret == HV_SUCCESS)
		remember(a[2], cpu);
	storm.done[cpu]++;
}

static void storm_cpu(unsigned cpu)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull * (cpu + 1) ^ rdtsc();

	/* Each CPU starts with a VM of its own, so there is always something to hit. */
	uint64_t a[6] = { 0 };

	if (vmcall(HVMETAL_HC_VM_CREATE, a) == HV_SUCCESS)
		remember(a[2], cpu);
	for (uint32_t i = 0; i < storm.calls; i++)
		one_call(&rng, cpu);
}

/* Every vCPU this CPU owns goes; then (on the boot CPU, once all are done) every VM. */
static void clean_vcpus(void)
{
	uint32_t n = __atomic_load_n(&storm.nhandles, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < n; i++)
		for (uint64_t id = 0; id < VCPUS_PER_VM; id++) {
			uint64_t a[6] = { storm.handles[i], id };

			vmcall(HVMETAL_HC_VCPU_DESTROY, a);
		}
}

static VOID EFIAPI storm_ap(VOID *arg)
{
	UINTN me = 0;

	(void)arg;
	if (EFI_ERROR(uefi_call_wrapper(storm.mp->WhoAmI, 2, storm.mp, &me)) || me >= STORM_CPUS)
		return;
	storm_cpu((unsigned)me);
	clean_vcpus();
	__atomic_add_fetch(&storm.finished, 1, __ATOMIC_ACQ_REL);
}

void test_storm(EFI_MP_SERVICES_PROTOCOL *mp, unsigned cpus, uint32_t calls_per_cpu)
{
	struct hvmetal_info before = { 0 }, after = { 0 };
	struct hvmetal_selfcheck sc = { 0 };
	EFI_PHYSICAL_ADDRESS pages;
	EFI_EVENT done = NULL;
	EFI_STATUS st = EFI_SUCCESS;
	uint64_t total = 0, created = 0, destroyed = 0, t0;
	UINTN bsp = 0;
	hv_return_t r;

	if (cpus > STORM_CPUS)
		cpus = STORM_CPUS;
	memset(&storm, 0, sizeof(storm));
	storm.mp = mp;
	storm.calls = calls_per_cpu;
	if (hvmetal_info(&before) != HV_SUCCESS || hvmetal_selfcheck(&sc) != HV_SUCCESS) {
		tap_ok(0, "storm: INFO and SELFCHECK before it");
		return;
	}
	storm.region_base = before.region_base;
	storm.region_size = before.region_size;
	storm.canary = sc.canary_addr;
	for (unsigned i = 0; i < cpus; i++) {
		if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
						SCRATCH_PAGES + 1, &pages))) {
			tap_ok(0, "storm: scratch pages for CPU %u", i);
			return;
		}
		storm.scratch[i] = (uint8_t *)(uintptr_t)pages;
		memset(storm.scratch[i], 0x5a, (SCRATCH_PAGES + 1) * 4096);
	}
	if (mp)
		uefi_call_wrapper(mp->WhoAmI, 2, mp, &bsp);
	if (cpus > 1) {
		st = uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &done);
		if (!EFI_ERROR(st))
			st = uefi_call_wrapper(mp->StartupAllAPs, 7, mp, storm_ap, FALSE, done, 0, NULL, NULL);
	}
	t0 = rdtsc();
	storm_cpu((unsigned)bsp);
	clean_vcpus();
	/* Every AP's own count says it is done: a hung one shows as a timeout here. */
	for (uint64_t w = rdtsc(); __atomic_load_n(&storm.finished, __ATOMIC_ACQUIRE) < cpus - 1 &&
	     rdtsc() - w < STORM_WAIT_TICKS; )
		cpu_pause();
	if (cpus > 1 && !EFI_ERROR(st)) {
		UINTN index;

		uefi_call_wrapper(BS->WaitForEvent, 3, 1, &done, &index);
		uefi_call_wrapper(BS->CloseEvent, 1, done);
	}
	for (uint32_t i = 0; i < storm.nhandles; i++) {
		uint64_t a[6] = { storm.handles[i] };

		destroyed += vmcall(HVMETAL_HC_VM_DESTROY, a) == HV_SUCCESS;
	}
	for (unsigned i = 0; i < cpus; i++) {
		total += storm.done[i];
		created += storm.created[i];
		tap_diag("storm: CPU %u made %lu calls, created %lu VMs", i, storm.done[i], storm.created[i]);
	}
	tap_diag("storm: %lu hypercalls on %u CPUs in %lu TSC ticks; %lu VMs created, %lu left to destroy",
		 total, cpus, rdtsc() - t0, created, destroyed);
	tap_ok(!EFI_ERROR(st) && total == (uint64_t)cpus * calls_per_cpu && storm.finished == cpus - 1,
	       "storm: %lu random hypercalls from %u CPUs at once, all answered", total, cpus);
	tap_ok(storm.nhandles < HANDLES, "storm: every VM it created was remembered for the clean-up (%u)",
	       storm.nhandles);
	r = hvmetal_info(&after);
	tap_ok(r == HV_SUCCESS && after.pool_free == before.pool_free,
	       "storm: hvmetal's pool is back to its baseline (%lu free, %lu before)",
	       after.pool_free, before.pool_free);
	tap_ok(hvmetal_selfcheck(&sc) == HV_SUCCESS && sc.canary_intact && sc.code_intact,
	       "storm: SELFCHECK intact (canary and code)");
	for (unsigned i = 0; i < cpus; i++)
		uefi_call_wrapper(BS->FreePages, 2, (EFI_PHYSICAL_ADDRESS)(uintptr_t)storm.scratch[i],
				  SCRATCH_PAGES + 1);
}
