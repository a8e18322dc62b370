/*
 * Fuzzes hvmetal's hypercall layer, decoding and dispatch, over the real VM,
 * vCPU, run loop, EPT, pool, VMCS policy and copy-in/out code: all of
 * hypercall/, vm/vm.c, vm/vcpu.c, vm/vcpu_run.c, ept/ept.c, kernel/pool.c, kernel/kick.c,
 * vmx/ ... with only the hardware replaced, by the fake machine of
 * tests/fuzz/fake_cpu.c (what it checks is said there).
 *
 * Input: a header (struct header: the CPU model, how many CPUs, the pool's
 * size, the control domain's paging), then up to MAX_OPS operations of 20
 * bytes (struct op): a hypercall (its number, out-of-range ones included; the
 * CPU making it and its CPL; six argument registers, each decoded from 3
 * bytes by struct arg's selector into live, stale or invented handles, vCPU
 * ids, address spaces, pointers into the caller's buffers, into hvmetal's
 * memory or nowhere, guest-physical addresses, sizes, flags, register, field
 * and MSR numbers, extremes), or something the rest of the machine does:
 * the caller's page tables and buffers change (pointers to its RAM, to
 * hvmetal's pool, image and canary, to MMIO; any flags), the pool is starved
 * as other CPUs' calls would, a guest exits, the control domain changes its
 * MSRs, debug registers, XCR0 or XFD, or sends an NMI (which may meet a
 * kick).  VCPU_RUN's guest follows a script of exits and may run on (its CPU
 * busy) while other CPUs' calls go on.
 *
 * After every call: the result is one of Apple's hv_return_t codes (or
 * HVMETAL_RUN_AGAIN from a run); CPL > 0 is HV_DENIED, an unknown number
 * HV_UNSUPPORTED, both changing nothing; registers other than the call's
 * results are preserved and the caller's RIP moved past the VMCALL; a vCPU
 * call from a CPU not its owner is HV_DENIED, on a VM or vCPU that does not
 * exist HV_BAD_ARGUMENT; VM and space destroy and vCPU create/destroy agree
 * with a model of what exists; a call copying to or from a buffer succeeds
 * only when a reference walk finds every byte in the caller's RAM, and
 * nothing in the caller's RAM changes but the bytes it named, and only on
 * success (compared after each call that copies out, and at the end of the
 * input: only a copy-out may write there, so a stray write shows then); map, unmap, protect and the APIC page change a space's
 * translations exactly as they should, all or nothing (a map exactly to
 * where the caller's page tables point); what is copied out is hvmetal's
 * state (fpstate, translation, stats, selfcheck); no lock is held, each idle
 * CPU has its control domain's VMCS current, the control domain's registers
 * are back after a run, the canary is intact.  At the end every running guest
 * exits, everything is destroyed from its owner, and the pool is back to its
 * baseline.  ASan and UBSan watch all of it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Hypervisor/hv.h>
#include <Hypervisor/hv_arch_vmx.h>
#include <Hypervisor/hv_intr.h>
#include <Hypervisor/hv_vmx.h>
#include <hvmetal/abi.h>

#include "ept/ept.h"
#include "ept/ept_identity.h"
#include "hypercall/hypercall.h"
#include "kernel/guest_pt.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "kernel/kick.h"
#include "kernel/memmap.h"
#include "kernel/pool.h"
#include "vm/vapic.h"
#include "vm/vcpu.h"
#include "vm/vm.h"
#include "vmx/vmcs_policy.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"

#define NO_COVERAGE	__attribute__((no_sanitize("coverage"), noinline))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define MAX_OPS		48
#define K4		0x1000ull
#define M2		0x200000ull

/* The caller's window: its page tables map FAKE_RAM one to one from here. */
#define WIN		FAKE_RAM
#define PT_P		(1ull << 0)
#define PT_RW		(1ull << 1)
#define PT_US		(1ull << 2)
#define PT_PS		(1ull << 7)
#define PT_NX		(1ull << 63)

#define CR0_PE_PG_NE_ET	0x80000031ull
#define CR0_WP_BIT	(1ull << 16)
#define CR4_PAE_BIT	(1ull << 5)
#define CR4_SMEP_BIT	(1ull << 20)
#define CR4_SMAP_BIT	(1ull << 21)
#define EFER_LONG_NX	0xd00ull
#define RFLAGS_AC_BIT	(1ull << 18)

uint32_t fake_xsave_size(void);

struct header {
	uint8_t model[2];	/* struct fake_model's bits */
	uint8_t cpus;		/* 1 + this % FAKE_CPUS */
	uint8_t pool;		/* 96 + this pages (less than FAKE_POOL_MAX) */
	uint8_t paging;		/* bit 0: CR0.WP, 1: SMAP, 2: RFLAGS.AC, 3: SMEP, 4: no 2M page */
	uint8_t cd_msrs;	/* a seed for the control domain's register values */
};

struct arg {
	uint8_t sel, lo, hi;
};

struct op {
	uint8_t kind;		/* < 0xa0: call kind % HVMETAL_HC_COUNT + 1; < 0xa8: an invented
				   number; else a machine op (enum mop) */
	uint8_t flags;		/* bits 1:0 CPU; 3:2 == 3: CPL 3 (bit 4: CPL 1); bit 5: STI blocking */
	struct arg a[6];	/* RDI, RSI, RDX, RCX, R8, R9 */
};

enum mop {
	M_POKE_PTE, M_POKE_DATA, M_STARVE, M_UNSTARVE, M_GUEST_EVENT, M_CD_MSR, M_CD_REGS,
	M_CD_NMI, M_POKE_PTE2, M_POKE_PTE3, M_KINDS,
};

/* ---- the model: what exists ---- */

#define MVMS		32
#define MSPACES		1024

struct mvm {
	uint64_t handle;	/* 0: unused entry */
	bool live;
	bool accel;		/* made with HV_VM_ACCEL_APIC */
	uint32_t nvcpus;
	struct {
		bool live;
		uint32_t owner, asid;
	} vcpu[VM_VCPUS_MAX];
	uint64_t spaces[MSPACES / 64];	/* live asids */
};

static struct mvm mvms[MVMS];
static unsigned nmvms;

static NO_COVERAGE struct mvm *model_vm(uint64_t handle)
{
	for (unsigned i = 0; i < nmvms; i++)
		if (mvms[i].handle == handle && mvms[i].live)
			return &mvms[i];
	return NULL;
}

static bool space_live(const struct mvm *m, uint64_t asid)
{
	return asid < MSPACES && (m->spaces[asid / 64] >> (asid % 64) & 1);
}

static void space_set(struct mvm *m, uint64_t asid, bool live)
{
	CHECK(asid < MSPACES);
	if (live)
		m->spaces[asid / 64] |= 1ull << (asid % 64);
	else
		m->spaces[asid / 64] &= ~(1ull << (asid % 64));
}

static unsigned space_count(const struct mvm *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MSPACES / 64; i++)
		n += (unsigned)__builtin_popcountll(m->spaces[i]);
	return n;
}

static struct vm *real_vm(uint64_t handle)
{
	return vm_peek(handle);
}

/* ---- the control domain: registers, paging, memory ---- */

/*
 * Where the caller keeps the APIC calls' structures (frames 8-11 of its RAM):
 * the local APIC's, the IOAPIC's and an 8259's state, an LSC entry, the exit info.
 */
#define SLOT_APIC	(WIN + 8 * K4)
#define SLOT_IOAPIC	(WIN + 9 * K4)
#define SLOT_ATPIC	(WIN + 10 * K4)
#define SLOT_LSC	(WIN + 11 * K4)
#define SLOT_EXIT	(WIN + 11 * K4 + 0x800)

struct cd {
	struct fake_regs r;	/* what its CPU holds while no guest runs */
	uint64_t cr0, cr4, rflags;
	uint64_t rip;
};

static struct cd cds[FAKE_CPUS];
static uint8_t ram_shadow[FAKE_RAM_SIZE];	/* the caller's RAM as it should be */
static size_t pool_baseline;
static uint64_t starved[(FAKE_POOL_MAX + 63) / 64];

static NO_COVERAGE bool ref_read(void *ctx, uint64_t gpa, uint64_t *val)
{
	(void)ctx;
	if (!fake_cd_ram(gpa & ~(K4 - 1), K4))
		return false;
	memcpy(val, fake_ram_byte(gpa), 8);
	return true;
}

static struct guest_paging cd_paging(unsigned cpu)
{
	return (struct guest_paging){
		.cr0 = cds[cpu].cr0, .cr3 = FAKE_RAM, .cr4 = cds[cpu].cr4, .efer = EFER_LONG_NX,
		.rflags = cds[cpu].rflags, .maxphyaddr = 48,
	};
}

/*
 * The reference: where the caller's page tables put gva for a supervisor
 * access (write or not), and how far from there the same page stays the
 * caller's RAM. False when any of it is not.
 */
static NO_COVERAGE bool ref_translate(unsigned cpu, uint64_t gva, bool write, uint64_t *pa,
				      uint64_t *extent)
{
	struct guest_paging pg = cd_paging(cpu);
	struct guest_pt_walk w;
	uint64_t size;

	if (guest_pt_translate(&pg, ref_read, NULL, gva, write ? GUEST_PT_WRITE : 0, &w) != GUEST_PT_OK ||
	    !fake_cd_ram(w.gpa & ~(K4 - 1), K4))
		return false;
	size = w.page_size ? w.page_size : K4;
	*extent = size - (w.gpa & (size - 1));
	if (!fake_cd_ram(w.gpa & ~(K4 - 1), *extent + (w.gpa & (K4 - 1))))
		*extent = K4 - (w.gpa & (K4 - 1));
	*pa = w.gpa;
	return true;
}

/* A buffer a call names, where the reference finds it: n bytes, extent by extent. */
struct buffer {
	uint64_t n;
	bool reachable;		/* every byte is the caller's RAM (writable for a copy-out) */
	unsigned next;
	struct { uint64_t pa, len; } ext[8];
};

/* Finds [gva, gva + n) before the call (a copy-out may rewrite the page tables). */
static NO_COVERAGE void ref_buffer(unsigned cpu, uint64_t gva, uint64_t n, bool write, struct buffer *b)
{
	uint64_t pa, ext;

	b->n = n;
	b->next = 0;
	b->reachable = n && gva + n > gva;
	for (uint64_t off = 0; b->reachable && off < n; off += ext) {
		b->reachable = ref_translate(cpu, gva + off, write, &pa, &ext) && b->next < 8;
		ext = ext < n - off ? ext : n - off;
		if (b->reachable)
			b->ext[b->next++] = (typeof(b->ext[0])){ pa, ext };
	}
}

/* Nothing of the caller's RAM changed, but buffer b when allowed. */
static NO_COVERAGE void check_ram(const struct buffer *b, bool allowed)
{
	static uint8_t ok[FAKE_RAM_SIZE];
	const uint8_t *ram = (const uint8_t *)(uintptr_t)FAKE_RAM;

	if (!memcmp(ram, ram_shadow, FAKE_RAM_SIZE))
		return;
	CHECKF(allowed && b->reachable, "the caller's RAM changed, and no buffer the call named may");
	memset(ok, 0, sizeof(ok));
	for (unsigned e = 0; e < b->next; e++)
		for (uint64_t i = 0; i < b->ext[e].len; i++)
			ok[fake_ram_byte(b->ext[e].pa + i) - ram] = 1;
	for (unsigned i = 0; i < FAKE_RAM_SIZE; i++)
		CHECKF(ram[i] == ram_shadow[i] || ok[i], "RAM byte %#lx changed outside the buffer",
		       (uint64_t)(FAKE_RAM + i));
	memcpy(ram_shadow, ram, FAKE_RAM_SIZE);
}

/* What the buffer holds now. */
static NO_COVERAGE void buffer_read(const struct buffer *b, void *dst)
{
	uint8_t *d = dst;

	CHECK(b->reachable);
	for (unsigned e = 0; e < b->next; e++)
		for (uint64_t i = 0; i < b->ext[e].len; i++)
			*d++ = *fake_ram_byte(b->ext[e].pa + i);
}

/* The caller writes its own RAM: there and in the shadow, so no earlier stray write is forgotten. */
static void ram_write(uint64_t off, const void *src, size_t n)
{
	memcpy((uint8_t *)(uintptr_t)FAKE_RAM + off, src, n);
	memcpy(ram_shadow + off, src, n);
}

static void pte(unsigned frame, unsigned slot, uint64_t val)
{
	ram_write(frame * K4 + slot * 8, &val, 8);
}

/* The caller's page tables: frames 0-3 a PML4, PDPT, PD, PT mapping WIN one to one. */
static void build_paging(const struct header *h)
{
	memset((void *)(uintptr_t)FAKE_RAM, 0, FAKE_RAM_SIZE);
	pte(0, (WIN >> 39) & 511, (FAKE_RAM + 1 * K4) | PT_P | PT_RW);
	pte(1, (WIN >> 30) & 511, (FAKE_RAM + 2 * K4) | PT_P | PT_RW);
	pte(2, (WIN >> 21) & 511, (FAKE_RAM + 3 * K4) | PT_P | PT_RW);
	if (!(h->paging & 0x10))
		pte(2, ((WIN >> 21) & 511) + 1, FAKE_BIG | PT_P | PT_RW | PT_PS);
	for (unsigned i = 0; i < FAKE_FRAMES; i++)
		pte(3, i, (FAKE_RAM + i * K4) | PT_P | PT_RW);
	memcpy(ram_shadow, (void *)(uintptr_t)FAKE_RAM, FAKE_RAM_SIZE);
	{
		uint32_t ver = HV_APIC_STATE_EXT_VER;	/* the three EXT_VERs are one value */

		ram_write(SLOT_APIC - WIN, &ver, 4);
		ram_write(SLOT_IOAPIC - WIN, &ver, 4);
		ram_write(SLOT_ATPIC - WIN, &ver, 4);
	}
}

/* ---- the pool: others' pages ---- */

static NO_COVERAGE void starve(size_t left)
{
	spin_lock(&host_pool.lock);
	for (size_t i = host_pool.hint; i < host_pool.npages && host_pool.free_pages > left; i++) {
		if (host_pool.bitmap[i / 64] & (1ull << (i % 64)))
			continue;
		host_pool.bitmap[i / 64] |= 1ull << (i % 64);
		starved[i / 64] |= 1ull << (i % 64);
		host_pool.free_pages--;
		host_pool.hint = i + 1;
	}
	spin_unlock(&host_pool.lock);
}

static NO_COVERAGE void unstarve(void)
{
	spin_lock(&host_pool.lock);
	for (size_t w = 0; w < ARRAY_SIZE(starved); w++)
		while (starved[w]) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(starved[w]);

			starved[w] &= starved[w] - 1;
			host_pool.bitmap[w] &= ~(1ull << (i % 64));
			host_pool.free_pages++;
			if (i < host_pool.hint)
				host_pool.hint = i;
		}
	spin_unlock(&host_pool.lock);
}

/* ---- setup: what cd_setup and cd_launch do, on the fake machine ---- */

static const uint64_t ext_pattern = 0x0123456789abcdefull;

static void cd_regs_init(unsigned c, uint8_t seed)
{
	struct fake_regs *r = &cds[c].r;

	memset(r, 0, sizeof(*r));
	r->cr2 = 0x7000 + c;
	r->dr[0] = seed & 1 ? 0xffffffff81000000ull : 0;
	r->dr6 = 0xffff0ff0;
	r->xcr0 = seed & 2 ? 7 : 3;
	r->msr[FM_STAR] = 0x0023001000000000ull;
	r->msr[FM_LSTAR] = 0xffffffff81800000ull + c;
	r->msr[FM_CSTAR] = seed & 4 ? 0xffffffff81800100ull : 0;
	r->msr[FM_SFMASK] = 0x47700;
	r->msr[FM_KGSBASE] = 0xffff888000000000ull + c * K4;
	r->msr[FM_TSC_AUX] = fake_model.rdtscp ? c : 0;
	r->msr[FM_BNDCFGS] = 0;
	r->msr[FM_XFD] = fake_model.xfd && (seed & 8) && fake_model.xsave == 3 ? 1ull << 18 : 0;
	memcpy(r->ext + 160, &ext_pattern, 8);
	r->ext[160] ^= (uint8_t)c;
	r->ext[24] = 0x80;	/* MXCSR 0x1f80 */
	r->ext[25] = 0x1f;
}

static bool setup(const struct header *h)
{
	size_t pool_pages = 96 + h->pool % (FAKE_POOL_MAX - 96);
	unsigned ncpus = 1 + h->cpus % FAKE_CPUS;

	fake_model = (struct fake_model){
		.shadow = h->model[0] & 1, .vpid = h->model[0] & 2, .vapic = h->model[0] & 4,
		.ept_2m = !(h->model[0] & 8), .ept_1g = h->model[0] & 16,
		.invept_single = !(h->model[0] & 32), .rdtscp = !(h->model[0] & 64),
		.mpx = h->model[0] & 128, .xfd = h->model[1] & 1, .arch_cap = h->model[1] & 2,
		.hlt = !(h->model[1] & 4), .vmwrite_any = h->model[1] & 8,
		.tsc_known = !(h->model[1] & 16), .xsave = (h->model[1] >> 5) & 3,
		.apicv = !(h->model[1] & 128),
	};
	fake_machine_reset(ncpus);
	/* Without 2 MiB EPT pages hvmetal refuses the CPU (vmx_caps_check): nothing runs. */
	if (!fake_model.ept_2m) {
		CHECK(vmx_probe(0) != NULL);
		return false;
	}
	CHECK(vmx_probe(0) == NULL);
	memset(&hv, 0, sizeof(hv));
	hv.boot.region_base = FAKE_REGION;
	hv.boot.region_size = FAKE_REGION_END - FAKE_REGION;
	hv.boot.pool_base = FAKE_POOL;
	hv.boot.pool_size = pool_pages * K4;
	hv.boot.cpu_count = ncpus;
	memmap_init(&hv.boot.memmap);
	CHECK(memmap_add_ram(&hv.boot.memmap, FAKE_RAM, FAKE_RAM_SIZE) == 0);
	CHECK(memmap_add_ram(&hv.boot.memmap, FAKE_BIG, FAKE_BIG_SIZE) == 0);
	CHECK(memmap_add_ram(&hv.boot.memmap, FAKE_REGION, FAKE_REGION_END - FAKE_REGION) == 0);
	memmap_set_hidden(&hv.boot.memmap, FAKE_REGION, FAKE_REGION_END - FAKE_REGION);
	hv.maxphyaddr = 48;
	CHECK(pool_init(&host_pool, (void *)(uintptr_t)FAKE_POOL, pool_pages * K4) == 0);
	memset(starved, 0, sizeof(starved));
	if (hvmetal_canary_setup() < 0)
		return false;
	hv.cpus = pool_alloc_pages(&host_pool, (ncpus * sizeof(struct percpu) + K4 - 1) / K4);
	if (!hv.cpus)
		return false;
	for (unsigned c = 0; c < ncpus; c++) {
		struct percpu *cpu = &hv.cpus[c];
		uint32_t *vmcs = pool_alloc_page(&host_pool);

		if (!vmcs)
			return false;
		cpu->self = cpu;
		cpu->index = c;
		cpu->apic_id = c;
		cpu->stack_top = FAKE_REGION + 0x8000 + c * 0x1000;
		vmcs[0] = vmx_caps.revision;
		cpu->vmcs_pa = (uintptr_t)vmcs;
		fake_set_current(c);
		CHECK(vmx_clear(cpu->vmcs_pa) == VMX_OK && vmx_ptrld(cpu->vmcs_pa) == VMX_OK);
		cds[c].cr0 = CR0_PE_PG_NE_ET | (h->paging & 1 ? CR0_WP_BIT : 0);
		cds[c].cr4 = CR4_PAE_BIT | (h->paging & 2 ? CR4_SMAP_BIT : 0) |
			     (h->paging & 8 ? CR4_SMEP_BIT : 0);
		cds[c].rflags = 2 | (h->paging & 4 ? RFLAGS_AC_BIT : 0);
		cds[c].rip = 0xffffffff81001000ull;
	}
	fake_set_current(0);
	vcpu_setup();
	if (!vcpu_xstate_size())
		return false;
	CHECK(vcpu_xstate_size() == fake_xsave_size());
	hv.features = HVMETAL_FEAT_EPT | HVMETAL_FEAT_UNRESTRICTED;
	hv.code_checksum = hvmetal_code_checksum();
	vm_init(&host_pool, 1ull << 48);
	for (unsigned c = 0; c < ncpus; c++) {
		struct percpu *cpu = &hv.cpus[c];

		cd_regs_init(c, (uint8_t)(h->cd_msrs + c));
		cds[c].r.xcr0 &= xstate_supported;
		fake_cpus[c].r = cds[c].r;
		cpu->cd_xcr0 = cds[c].r.xcr0;
		for (uint32_t m = vcpu_swapped_mask & ~(1u << VCPU_MSR_KGSBASE); m; m &= m - 1)
			cpu->cd_msr[__builtin_ctz(m)] = cds[c].r.msr[__builtin_ctz(m)];
		cpu->cd_msr_gen = 1;
		cpu->launched = 1;
	}
	hv.cpus_launched = ncpus;
	memset(vms, 0, sizeof(vms));
	memset(mvms, 0, sizeof(mvms));
	nmvms = 0;
	build_paging(h);
	pool_baseline = pool_free_bytes(&host_pool);
	return true;
}

/* ---- argument decoding ---- */

static const uint64_t extremes[] = {
	0, 1, ~0ull, 1ull << 63, 1ull << 32, 0xffffffffull, 0x7fffffffffffffffull,
	0xfffffffffffff000ull,
};

static const uint64_t odd_gvas[] = {
	0, 0xfff, WIN - K4, WIN + 0x400000 - 8, 0x00007ffffffff000ull, 0x0000800000000000ull,
	0xffff800000000000ull, 0xfffffffffffffff8ull, FAKE_REGION, FAKE_POOL, 0xfee00000ull,
	WIN + FAKE_RAM_SIZE - 16,
};

static const uint32_t msrs[] = {
	0x10, 0x174, 0x175, 0x176, 0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
	0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103, 0xd90, 0x1c4, 0x1b, 0x48, 0x3a, 0x480,
	0x830, 0x1d9, 0x277, 0x2000, 0xc0002000, 0xffffffff,
};

static const uint64_t misc_values[] = {
	HV_VMX_CAP_PINBASED, HV_VMX_CAP_PROCBASED2, HV_VMX_CAP_TRUE_EXIT, HV_VMX_CAP_MISC,
	HV_VMX_CAP_CR4_FIXED1, HV_VMX_CAP_EPT_VPID_CAP, HV_VMX_CAP_PREEMPTION_TIMER, 17, 31, 33,
	HV_VMX_INFO_MSR_IA32_ARCH_CAPABILITIES, HV_VMX_NEED_MSR_IA32_SPEC_CTRL, 9,
	HVMETAL_RUN_UNTIL, HVMETAL_RUN_UNTIL | HVMETAL_RUN_SET_RIP, HVMETAL_RUN_SET_RIP, 2, 0x200,
	HV_DEADLINE_FOREVER, HV_VCPU_TSC_RELATIVE, HV_VCPU_ACCEL_RDPMC, 4, HV_VM_ACCEL_APIC,
	HV_VM_SPECIFY_MITIGATIONS, 1 << 11, HV_CAP_ADDRSPACEMAX, 2,
};

/* The handle a stale or invented selector names. */
static NO_COVERAGE uint64_t odd_handle(unsigned p)
{
	uint64_t h = nmvms ? mvms[p % nmvms].handle : 0x101;

	switch ((p >> 8) % 4) {
	case 0:
		return h;	/* that VM's, dead or alive */
	case 1:
		return h + 0x100;	/* the next generation of its slot */
	case 2:
		return (h & ~0xffull) | ((h & 0xff) % VM_MAX + 1);	/* another slot */
	default:
		return (h & ~0xffull) | (p & 0x3 ? 0 : 0x11 + (p & 0xe0));	/* slot 0 or past VM_MAX */
	}
}

static NO_COVERAGE uint64_t decode_any(const struct arg *a)
{
	unsigned p = a->lo | a->hi << 8;
	size_t nf;
	const struct vmcs_field *f;

	switch (a->sel & 15) {
	case 0:
		return p;
	case 1: {
		unsigned live[MVMS], n = 0;

		for (unsigned i = 0; i < nmvms; i++)
			if (mvms[i].live)
				live[n++] = i;
		return n ? mvms[live[p % n]].handle : odd_handle(p);
	}
	case 2:
		return odd_handle(p);
	case 3:
		return p % 72;
	case 4:
		return p & 0x8000 ? (p & 0x4000 ? 0x100000000ull : ~0ull - (p & 3)) : p % 8;
	case 5:
		return WIN + (uint64_t)(p & 0xffff) * 64;
	case 6:
		return odd_gvas[p % ARRAY_SIZE(odd_gvas)] + (p >> 8) * 8;
	case 7:
		return (uint64_t)p * K4;
	case 8:
		return (uint64_t)(p & 0x7fff) * M2 + (p & 0x8000 ? K4 : 0);
	case 9:
		return p & 0x8000 ? (uint64_t)(p % 8 + 1) * M2 : (uint64_t)(p % 1024 + 1) * K4;
	case 10:
		return p % 0x3000;
	case 11:
		return p & 0x7ff;
	case 12:
		switch (p >> 14) {	/* a table, an index in bits 12:0 */
		case 0:
			return (p & 0x1fff) % 56;	/* hv_x86_reg_t, and past the last */
		case 1:
			f = vmcs_policy_fields(&nf);
			return f[(p & 0x1fff) % nf].encoding | (p >> 13 & 1);
		case 2:
			return msrs[(p & 0x1fff) % ARRAY_SIZE(msrs)];
		default:
			return misc_values[(p & 0x1fff) % ARRAY_SIZE(misc_values)];
		}
	case 13:
		return extremes[p % ARRAY_SIZE(extremes)];
	case 14:
		return (uint64_t)p << 32 | p;
	default:
		return (uint64_t)a->hi << 56 | a->lo;
	}
}


/* ---- the APIC calls' arguments (selector bit 4): values that mean something to them ---- */

static const uint32_t apic_offsets[] = {
	0x20, 0x30, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x100, 0x170, 0x180, 0x200,
	0x280, 0x2f0, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x390,
	0x3e0, 0x3f0,
};

/* A structure's pointer: its slot mostly, else across a frame, past RAM, hvmetal's, unmapped. */
static NO_COVERAGE uint64_t apic_ptr(uint64_t slot, unsigned v, unsigned p)
{
	switch (v) {
	case 5:
		return slot + K4 - 8 * (1 + p % 8);
	case 6:
		return odd_gvas[p % ARRAY_SIZE(odd_gvas)];
	case 7:
		return WIN + FAKE_RAM_SIZE - 8 * (1 + p % 4);
	default:
		return slot;
	}
}

/* A pin, IRQ or port as Apple's int: in range, out of it, negative (sign-extended or not). */
static NO_COVERAGE uint64_t apic_int(unsigned v, unsigned p, unsigned range)
{
	static const uint64_t odd[] = {
		~0ull, 0xffffffffull, 0x80000000ull, 0xffffffff80000000ull, 0x100000000ull, 2, 16, 32,
		0x7fffffffull, 1ull << 63,
	};

	return v < 5 ? p % range : v < 7 ? p % (range + 8) : odd[p % ARRAY_SIZE(odd)];
}

static NO_COVERAGE uint64_t apic_value32(unsigned v, unsigned p)
{
	switch (v) {
	case 0:		/* LVT: vector, mode, mask, timer mode */
		return (p & 0x7ff) | (p & 0x8000 ? 0x10000 : 0) | (uint32_t)(p >> 13 & 3) << 17;
	case 1:		/* ICR low: vector, mode, level, trigger, shorthand */
		return (p & 0x7ff) | (p & 0x800 ? 0x4000 : 0) | (p & 0x1000 ? 0x8000 : 0) |
		       (uint32_t)(p >> 13 & 3) << 18;
	case 2:		/* destination */
		return (uint32_t)(p & 0xff) << 24;
	case 3:		/* SVR */
		return (p & 0x12ff) | 0x100;
	case 4:
		return p & 0xfff;
	case 5:
		return p;
	case 6:
		return (uint64_t)p << 16 | p;
	default:
		return p & 1 ? 0x100000000ull | p : 0xffffffffu;
	}
}

static NO_COVERAGE uint64_t apic_decode(uint64_t nr, unsigned idx, const struct arg *a)
{
	static const uint64_t hz[] = { 16000000, 2000000000, 1000000000, 15999999, 2000000001, 0, ~0ull,
				       100000000 };
	unsigned p = a->lo | a->hi << 8, v = a->sel >> 5;

	switch (nr * 8 + idx) {
	case HVMETAL_HC_VM_CREATE * 8 + 0:
		return v == 7 ? HV_VM_ACCEL_APIC | 1ull << (p % 64) : HV_VM_ACCEL_APIC;
	case HVMETAL_HC_VCPU_APIC_CTRL * 8 + 2:
		return v < 6 ? p & 15 : v == 6 ? 1ull << (p % 64) : ~0ull;
	case HVMETAL_HC_VCPU_APIC_READ * 8 + 2:
	case HVMETAL_HC_VCPU_APIC_WRITE * 8 + 2:
		return v < 4 ? apic_offsets[p % ARRAY_SIZE(apic_offsets)] :
		       v == 4 ? apic_offsets[p % ARRAY_SIZE(apic_offsets)] + (p >> 12) :
		       v == 5 ? p & 0xfff : v == 6 ? 0x1000 + (p & 15) : extremes[p % ARRAY_SIZE(extremes)];
	case HVMETAL_HC_VCPU_APIC_WRITE * 8 + 3:
	case HVMETAL_HC_VM_IOAPIC_MMIO * 8 + 3:
		return apic_value32(v, p);
	case HVMETAL_HC_VCPU_APIC_GET_STATE * 8 + 2:
	case HVMETAL_HC_VCPU_APIC_PUT_STATE * 8 + 2:
		return apic_ptr(SLOT_APIC, v, p);
	case HVMETAL_HC_VCPU_APIC_TRIGGER_LVT * 8 + 2:
		return v < 5 ? HV_APIC_LVT_FLAVOR_TIMER : v < 7 ? p % 4 : 1ull << 32 | 1;
	case HVMETAL_HC_VCPU_APIC_LSC * 8 + 2:
		return v == 0 ? 0 : apic_ptr(SLOT_LSC, v, p);
	case HVMETAL_HC_VCPU_EXIT_INFO * 8 + 2:
		return apic_ptr(SLOT_EXIT, v, p);
	case HVMETAL_HC_VMX_SET_APIC_ADDRESS * 8 + 2:
	case HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE * 8 + 2:
		return v < 4 ? 0xfee00000ull : v < 6 ? (uint64_t)(p & 0x3ff) * K4 : 0xfee00000ull + (p & 0xfff);
	case HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE * 8 + 3:
		return v < 6 ? p % 4 : 1ull << 32;
	case HVMETAL_HC_VM_LAPIC_SET_INTR * 8 + 1:
		return v < 6 ? p % 4 : v == 6 ? 64 + p % 4 : extremes[p % ARRAY_SIZE(extremes)];
	case HVMETAL_HC_VM_LAPIC_SET_INTR * 8 + 2:
		return v < 5 ? p & 0xff : v == 5 ? p % 16 : v == 6 ? 0x100 + (p & 0xff) : ~0ull;
	case HVMETAL_HC_VM_LAPIC_SET_INTR * 8 + 3:
		return v < 6 ? p % 3 : v == 6 ? 3 : ~0ull;
	case HVMETAL_HC_VM_LAPIC_MSI * 8 + 1:	/* destination, RH, DM; else elsewhere */
		return v < 5 ? 0xfee00000ull | (uint64_t)(p & 0xff) << 12 | (p >> 8 & 0xc) :
		       v == 5 ? 0xfed00000ull | (p & 0xfffff) : v == 6 ? 0x1fee00000ull : (uint64_t)p << 20;
	case HVMETAL_HC_VM_LAPIC_MSI * 8 + 2:	/* vector, mode, level, trigger */
		return v < 6 ? (p & 0xc7ff) : (uint64_t)p << 32 | p;
	case HVMETAL_HC_VM_IOAPIC_INTR * 8 + 1:
		return (p & 0x1ffff) | (uint64_t)(v & 1 ? 0xff : p >> 8 & 3) << 56 |
		       (v & 6 ? 0 : (uint64_t)p << 24);
	case HVMETAL_HC_VM_APIC_BUS_FREQ * 8 + 1:
		return hz[p % ARRAY_SIZE(hz)];
	case HVMETAL_HC_VM_IOAPIC_IRQ * 8 + 1:
		return apic_int(v, p, 32);
	case HVMETAL_HC_VM_ATPIC_IRQ * 8 + 1:
		return apic_int(v, p, 16);
	case HVMETAL_HC_VM_IOAPIC_IRQ * 8 + 2:
	case HVMETAL_HC_VM_ATPIC_IRQ * 8 + 2:
	case HVMETAL_HC_VM_IOAPIC_MMIO * 8 + 2:
	case HVMETAL_HC_VM_ATPIC_PORT * 8 + 2:
	case HVMETAL_HC_VM_ATPIC_GET_STATE * 8 + 2:
	case HVMETAL_HC_VM_ATPIC_PUT_STATE * 8 + 2:
		return v < 7 ? p % 3 : ~0ull - p % 2;
	case HVMETAL_HC_VM_IOAPIC_MMIO * 8 + 1:	/* IOREGSEL, IOWIN, EOI; around the page */
		return v < 4 ? 0xfec00000ull + (p & 1 ? 0x10 : 0) : v == 4 ? 0xfec00040ull :
		       v == 5 ? 0xfec00000ull + (p & 0xfff) : v == 6 ? 0xfebffff0ull + (p & 0x3f) * 0x10 :
		       (uint64_t)p << 32 | 0xfec00000ull;
	case HVMETAL_HC_VM_ATPIC_PORT * 8 + 1: {
		static const uint64_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };

		return v < 6 ? ports[p % 6] : apic_int(v, p, 0x500);
	}
	case HVMETAL_HC_VM_ATPIC_PORT * 8 + 3: {	/* ICW1-4, OCW1-3, ELCR */
		static const uint64_t vals[] = { 0x11, 0x20, 0x28, 0x04, 0x02, 0x01, 0x03, 0x0a, 0x0b,
						 0x0c, 0x68, 0x48, 0x60, 0xe0, 0xa0, 0xc7 };

		return v < 5 ? vals[p % ARRAY_SIZE(vals)] : v < 7 ? (p & 0xff) : 0x100 + (p & 0xff);
	}
	case HVMETAL_HC_VM_IOAPIC_GET_STATE * 8 + 1:
	case HVMETAL_HC_VM_IOAPIC_PUT_STATE * 8 + 1:
		return apic_ptr(SLOT_IOAPIC, v, p);
	case HVMETAL_HC_VM_ATPIC_GET_STATE * 8 + 1:
	case HVMETAL_HC_VM_ATPIC_PUT_STATE * 8 + 1:
		return apic_ptr(SLOT_ATPIC, v, p);
	case HVMETAL_HC_VCPU_READ_MSR * 8 + 2:
	case HVMETAL_HC_VCPU_WRITE_MSR * 8 + 2:
		return v < 2 ? 0x1b : v < 4 ? 0x6e0 : v < 6 ? 0x800 + (apic_offsets[p % ARRAY_SIZE(apic_offsets)] >> 4) :
		       0x800 + (p & 0xff);
	case HVMETAL_HC_VCPU_WRITE_MSR * 8 + 3:
		return v < 4 ? apic_value32(v, p) : v == 4 ? 0xfee00000ull | (p & 0xd00) :
		       v == 5 ? fake_tsc + p : ~0ull - p;
	case HVMETAL_HC_VCPU_SET_TSC_OFFSET * 8 + 2:	/* guest TSC a little or a lot behind or ahead */
		return v < 4 ? -(uint64_t)p : v < 6 ? -((uint64_t)p << 20) : (uint64_t)p << (v * 4);
	case HVMETAL_HC_VCPU_WRITE_REG * 8 + 2:
		return v < 6 ? HV_X86_RFLAGS : HV_X86_RIP;
	case HVMETAL_HC_VCPU_WRITE_REG * 8 + 3:
		return v < 4 ? 0x202 : v < 6 ? 2 : p;
	default:
		return decode_any(a);
	}
}

/* Argument idx of call nr. */
static NO_COVERAGE uint64_t decode(const struct arg *a, uint64_t nr, unsigned idx)
{
	return a->sel & 0x10 ? apic_decode(nr, idx, a) : decode_any(a);
}

/* ---- checks ---- */

/* RAX as it comes back: an hv_return_t zero-extended (HVMETAL_RAX), never sign-extended. */
static bool valid_result(uint64_t r, bool run)
{
	switch (r) {
	case HVMETAL_RAX(HV_SUCCESS): case HVMETAL_RAX(HV_ERROR): case HVMETAL_RAX(HV_BUSY):
	case HVMETAL_RAX(HV_BAD_ARGUMENT): case HVMETAL_RAX(HV_NO_RESOURCES):
	case HVMETAL_RAX(HV_NO_DEVICE): case HVMETAL_RAX(HV_DENIED): case HVMETAL_RAX(HV_FAULT):
	case HVMETAL_RAX(HV_UNSUPPORTED):
		return true;
	default:
		return run && r == HVMETAL_RUN_AGAIN;
	}
}

/* Which registers a call may change besides RAX, as offsets in struct gpr_frame / 8. */
static uint32_t result_regs(uint64_t nr)
{
	const uint32_t rdx = 1u << (offsetof(struct gpr_frame, rdx) / 8);
	const uint32_t rcx = 1u << (offsetof(struct gpr_frame, rcx) / 8);
	const uint32_t rsi = 1u << (offsetof(struct gpr_frame, rsi) / 8);
	const uint32_t rdi = 1u << (offsetof(struct gpr_frame, rdi) / 8);
	const uint32_t r8 = 1u << (offsetof(struct gpr_frame, r8) / 8);
	const uint32_t r9 = 1u << (offsetof(struct gpr_frame, r9) / 8);

	switch (nr) {
	case HVMETAL_HC_VERSION: case HVMETAL_HC_CAPABILITY: case HVMETAL_HC_VM_CREATE:
	case HVMETAL_HC_VM_SPACE_CREATE: case HVMETAL_HC_VCPU_CREATE: case HVMETAL_HC_VCPU_READ_REG:
	case HVMETAL_HC_VCPU_READ_MSR: case HVMETAL_HC_VCPU_TIME: case HVMETAL_HC_VCPU_VMX_STATUS:
	case HVMETAL_HC_VMX_READ_VMCS: case HVMETAL_HC_VMX_READ_CAPABILITY: case HVMETAL_HC_VMX_MSR_INFO:
	case HVMETAL_HC_VMX_READ_SHADOW: case HVMETAL_HC_VCPU_APIC_READ:
	case HVMETAL_HC_VM_IOAPIC_MMIO: case HVMETAL_HC_VM_ATPIC_PORT:
		return rdx;
	case HVMETAL_HC_VMX_CAP_WRITE_VMCS: case HVMETAL_HC_VCPU_APIC_WRITE:
		return rdx | rcx;
	case HVMETAL_HC_VCPU_RUN:
		return rdx | rsi | rdi | r8 | r9 | rcx;
	default:
		return 0;
	}
}

/* The calls that name a vCPU and serve only its owner. */
static bool owner_only(uint64_t nr)
{
	switch (nr) {
	case HVMETAL_HC_VCPU_DESTROY: case HVMETAL_HC_VCPU_SET_SPACE: case HVMETAL_HC_VCPU_READ_REG:
	case HVMETAL_HC_VCPU_WRITE_REG: case HVMETAL_HC_VCPU_READ_FPSTATE:
	case HVMETAL_HC_VCPU_WRITE_FPSTATE: case HVMETAL_HC_VCPU_MSR_ACCESS:
	case HVMETAL_HC_VCPU_READ_MSR: case HVMETAL_HC_VCPU_WRITE_MSR:
	case HVMETAL_HC_VCPU_INVALIDATE_TLB: case HVMETAL_HC_VCPU_RUN: case HVMETAL_HC_VCPU_TIME:
	case HVMETAL_HC_VCPU_SET_TSC_OFFSET: case HVMETAL_HC_VCPU_VMX_STATUS:
	case HVMETAL_HC_VMX_READ_VMCS: case HVMETAL_HC_VMX_WRITE_VMCS:
	case HVMETAL_HC_VMX_CAP_WRITE_VMCS: case HVMETAL_HC_VMX_READ_SHADOW:
	case HVMETAL_HC_VMX_WRITE_SHADOW: case HVMETAL_HC_VMX_SHADOW_ACCESS:
	case HVMETAL_HC_VMX_SET_APIC_ADDRESS:
		return true;
	default:
		return nr >= HVMETAL_HC_VCPU_APIC_CTRL && nr <= HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE;
	}
}

/* The VM-wide APIC calls (RDI = vm, from any CPU). */
static bool apic_vm_call(uint64_t nr)
{
	return nr >= HVMETAL_HC_VM_LAPIC_SET_INTR && nr <= HVMETAL_HC_VM_ATPIC_PUT_STATE;
}

/* The APIC calls of a vCPU that HV_VM_ACCEL_APIC decides (not EXIT_INFO, nor the APIC page's). */
static bool apic_vcpu_call(uint64_t nr)
{
	return nr >= HVMETAL_HC_VCPU_APIC_CTRL && nr <= HVMETAL_HC_VCPU_INJECT_EXTINT;
}

/* Sizes of the APIC calls' structures. */
static uint64_t apic_struct_size(uint64_t nr)
{
	switch (nr) {
	case HVMETAL_HC_VCPU_APIC_GET_STATE: case HVMETAL_HC_VCPU_APIC_PUT_STATE:
		return sizeof(hv_apic_state_ext_t);
	case HVMETAL_HC_VM_IOAPIC_GET_STATE: case HVMETAL_HC_VM_IOAPIC_PUT_STATE:
		return sizeof(hv_ioapic_state_ext_t);
	case HVMETAL_HC_VM_ATPIC_GET_STATE: case HVMETAL_HC_VM_ATPIC_PUT_STATE:
		return sizeof(hv_atpic_state_ext_t);
	case HVMETAL_HC_VCPU_APIC_LSC:
		return sizeof(struct hvmetal_lsc_entry);
	case HVMETAL_HC_VCPU_EXIT_INFO:
		return sizeof(struct hvmetal_exit_info);
	default:
		return 0;
	}
}

/* The calls that name a VM in RDI. */
static bool names_vm(uint64_t nr)
{
	return owner_only(nr) || nr == HVMETAL_HC_VM_DESTROY || nr == HVMETAL_HC_VM_SPACE_CREATE ||
	       nr == HVMETAL_HC_VM_SPACE_DESTROY || nr == HVMETAL_HC_VM_MAP ||
	       nr == HVMETAL_HC_VM_UNMAP || nr == HVMETAL_HC_VM_PROTECT ||
	       nr == HVMETAL_HC_VM_TRANSLATE || nr == HVMETAL_HC_VM_STATS ||
	       nr == HVMETAL_HC_VM_SYNC_TSC || nr == HVMETAL_HC_VCPU_CREATE ||
	       nr == HVMETAL_HC_VCPU_INTERRUPT || apic_vm_call(nr);
}

/* The buffer a call copies out to (its size), or copies in from (*in). */
static uint64_t buffer_of(uint64_t nr, const struct gpr_frame *g, uint64_t *gva, bool *in)
{
	*in = false;
	switch (nr) {
	case HVMETAL_HC_INFO:
		*gva = g->rdi;
		return g->rsi == sizeof(struct hvmetal_info) ? sizeof(struct hvmetal_info) : 0;
	case HVMETAL_HC_SELFCHECK:
		*gva = g->rdi;
		return sizeof(struct hvmetal_selfcheck);
	case HVMETAL_HC_VM_TRANSLATE:
		*gva = g->rcx;
		return sizeof(struct hvmetal_translation);
	case HVMETAL_HC_VM_STATS:
		*gva = g->rsi;
		return sizeof(struct hvmetal_vm_stats);
	case HVMETAL_HC_VCPU_READ_FPSTATE:
		*gva = g->rdx;
		return vcpu_xstate_size();
	case HVMETAL_HC_VCPU_WRITE_FPSTATE:
		*gva = g->rdx;
		*in = true;
		return vcpu_xstate_size();
	case HVMETAL_HC_VCPU_APIC_LSC:
		if (!g->rdx)
			return 0;
		/* fall through */
	case HVMETAL_HC_VCPU_APIC_PUT_STATE:
		*in = true;
		/* fall through */
	case HVMETAL_HC_VCPU_APIC_GET_STATE: case HVMETAL_HC_VCPU_EXIT_INFO:
		*gva = g->rdx;
		return apic_struct_size(nr);
	case HVMETAL_HC_VM_IOAPIC_PUT_STATE: case HVMETAL_HC_VM_ATPIC_PUT_STATE:
		*in = true;
		/* fall through */
	case HVMETAL_HC_VM_IOAPIC_GET_STATE: case HVMETAL_HC_VM_ATPIC_GET_STATE:
		*gva = g->rsi;
		return apic_struct_size(nr);
	default:
		return 0;
	}
}

/* EPT permissions of hv_memory_flags_t (valid ones). */
static unsigned ept_perms_of(uint64_t flags)
{
	return (flags & HV_MEMORY_READ ? EPT_PERM_R : 0) | (flags & HV_MEMORY_WRITE ? EPT_PERM_W : 0) |
	       (flags & HV_MEMORY_EXEC ? EPT_PERM_X : 0);
}

static struct fake_ept_view before, after, want;

static NO_COVERAGE void runs_push(struct fake_ept_view *v, struct fake_run r)
{
	struct fake_run *last = v->nruns ? &v->runs[v->nruns - 1] : NULL;

	if (r.gpa >= r.end)
		return;
	if (last && last->end == r.gpa && last->perms == r.perms &&
	    last->hpa + (last->end - last->gpa) == r.hpa) {
		last->end = r.end;
		return;
	}
	if (v->nruns == FAKE_RUNS) {
		v->overflow = true;
		return;
	}
	v->runs[v->nruns++] = r;
}

/* want = b with [gpa, end) unmapped (perms 0) or given perms. */
static NO_COVERAGE void runs_change(const struct fake_ept_view *b, uint64_t gpa, uint64_t end,
				    unsigned perms)
{
	want.nruns = 0;
	want.overflow = b->overflow;
	for (unsigned i = 0; i < b->nruns; i++) {
		struct fake_run x = b->runs[i];
		uint64_t lo = x.gpa > gpa ? x.gpa : gpa, hi = x.end < end ? x.end : end;

		if (lo >= hi) {
			runs_push(&want, x);
			continue;
		}
		runs_push(&want, (struct fake_run){ x.gpa, lo, x.hpa, x.perms });
		if (perms)
			runs_push(&want, (struct fake_run){ lo, hi, x.hpa + (lo - x.gpa), perms });
		runs_push(&want, (struct fake_run){ hi, x.end, x.hpa + (hi - x.gpa), x.perms });
	}
}

static NO_COVERAGE bool runs_overlap(const struct fake_ept_view *v, uint64_t gpa, uint64_t end)
{
	for (unsigned i = 0; i < v->nruns; i++)
		if (v->runs[i].gpa < end && gpa < v->runs[i].end)
			return true;
	return false;
}

/* want = b plus the translations r (sorted, not overlapping b). */
static NO_COVERAGE void runs_add(const struct fake_ept_view *b, const struct fake_ept_view *r)
{
	unsigned i = 0, j = 0;

	want.nruns = 0;
	want.overflow = b->overflow || r->overflow;
	while (i < b->nruns || j < r->nruns) {
		if (j == r->nruns || (i < b->nruns && b->runs[i].gpa < r->runs[j].gpa))
			runs_push(&want, b->runs[i++]);
		else
			runs_push(&want, r->runs[j++]);
	}
}

static NO_COVERAGE void check_runs(const struct fake_ept_view *w, const struct fake_ept_view *a,
				   const char *what)
{
	if (w->overflow || a->overflow)
		return;
	CHECKF(w->nruns == a->nruns, "%s: %u runs of translations, %u expected", what, a->nruns, w->nruns);
	for (unsigned i = 0; i < w->nruns; i++)
		CHECKF(w->runs[i].gpa == a->runs[i].gpa && w->runs[i].end == a->runs[i].end &&
		       w->runs[i].hpa == a->runs[i].hpa && w->runs[i].perms == a->runs[i].perms,
		       "%s: run %u is gpa %#lx-%#lx -> %#lx perms %x, expected %#lx-%#lx -> %#lx perms %x",
		       what, i, a->runs[i].gpa, a->runs[i].end, a->runs[i].hpa, a->runs[i].perms,
		       w->runs[i].gpa, w->runs[i].end, w->runs[i].hpa, w->runs[i].perms);
}

/* Space e's table count is its tree's and its pending list's. */
static NO_COVERAGE void check_tables(const struct ept *e, const struct fake_ept_view *v)
{
	unsigned pending = 0;

	for (const uint64_t *p = e->pending; p; p = (const uint64_t *)(uintptr_t)p[0]) {
		CHECK(fake_pool_page_used((uintptr_t)p));
		pending++;
	}
	if (!v->overflow)
		CHECKF(e->table_pages == v->ntables + pending, "space has %u table pages, counts %u",
		       v->ntables + pending, e->table_pages);
}

static struct ept *real_space(uint64_t handle, uint64_t asid)
{
	struct vm *vm = real_vm(handle);

	return vm && asid < MSPACES ? vm_space(vm, (uint32_t)asid) : NULL;
}

static uint64_t apic_page_of(uint64_t handle)
{
	struct vm *vm = real_vm(handle);

	return vm ? (uintptr_t)vm->apic_access_page : 0;
}

/* What a map of [uva, uva + size) at gpa should add; false when some page is not the caller's RAM. */
static NO_COVERAGE bool ref_map(unsigned cpu, uint64_t uva, uint64_t gpa, uint64_t size, unsigned perms,
				struct fake_ept_view *r)
{
	uint64_t pa, ext;

	r->nruns = 0;
	r->overflow = false;
	for (uint64_t off = 0; off < size; off += ext) {
		if (!ref_translate(cpu, uva + off, false, &pa, &ext))
			return false;
		ext = ext < size - off ? ext : size - off;
		runs_push(r, (struct fake_run){ gpa + off, gpa + off + ext, pa, perms });
	}
	return true;
}

/* ---- making calls ---- */

static struct {
	uint64_t nr;
	unsigned cpl;
	struct gpr_frame g, in;	/* the registers, and as they went in */
	uint64_t rip;
	struct buffer buf;	/* what it copies to or from */
	bool copy_in;
} calls[FAKE_CPUS];		/* per CPU: a VCPU_RUN may finish later */

static void cd_vmcs_prepare(unsigned cpu, unsigned cpl, bool sti)
{
	uint64_t pa = hv.cpus[cpu].vmcs_pa;

	fake_vmcs_set(pa, VMCS_GUEST_CR0, cds[cpu].cr0);
	fake_vmcs_set(pa, VMCS_GUEST_CR3, FAKE_RAM);
	fake_vmcs_set(pa, VMCS_GUEST_CR4, cds[cpu].cr4 | CR4_VMXE);
	fake_vmcs_set(pa, VMCS_GUEST_EFER, EFER_LONG_NX);
	fake_vmcs_set(pa, VMCS_GUEST_RFLAGS, cds[cpu].rflags);
	fake_vmcs_set(pa, VMCS_GUEST_SS_AR, 0xc093 | cpl << 5);
	fake_vmcs_set(pa, VMCS_GUEST_RIP, cds[cpu].rip);
	fake_vmcs_set(pa, VMCS_GUEST_INTERRUPTIBILITY, sti ? INTR_BLOCK_STI : 0);
	fake_vmcs_set(pa, VMCS_EXIT_REASON, VMX_REASON_VMCALL);
	fake_vmcs_set(pa, VMCS_EXIT_INSN_LEN, 3);
}

/* The control domain's own registers are back on cpu (no guest's left behind). */
static NO_COVERAGE void check_cd_regs(unsigned cpu)
{
	const struct fake_regs *r = &fake_cpus[cpu].r, *w = &cds[cpu].r;

	CHECKF(r->cr2 == w->cr2 && r->dr6 == w->dr6 && !memcmp(r->dr, w->dr, sizeof(r->dr)),
	       "the control domain's CR2/DR0-3/DR6 were not given back");
	CHECKF(r->xcr0 == hv.cpus[cpu].cd_xcr0 && r->xcr0 == w->xcr0, "XCR0 %#lx, the control domain's is %#lx",
	       r->xcr0, w->xcr0);
	for (unsigned i = 0; i < FM_NMSR; i++)
		CHECKF(r->msr[i] == w->msr[i], "MSR #%u is %#lx, the control domain's %#lx", i,
		       r->msr[i], w->msr[i]);
	CHECKF(!memcmp(r->ext, w->ext, fake_xsave_size()), "the control domain's extended state was not given back");
}

static NO_COVERAGE void check_call(unsigned cpu)
{
	uint64_t nr = calls[cpu].nr, r = calls[cpu].g.rax;
	const struct gpr_frame *g = &calls[cpu].g, *in = &calls[cpu].in;
	const struct buffer *b = &calls[cpu].buf;
	uint32_t may = result_regs(nr);
	struct mvm *m;

	CHECKF(valid_result(r, nr == HVMETAL_HC_VCPU_RUN), "call %#lx returned %#lx", nr, r);
	for (unsigned i = 1; i < sizeof(*g) / 8; i++)
		CHECKF(((const uint64_t *)g)[i] == ((const uint64_t *)in)[i] || (may >> i & 1),
		       "call %#lx changed register #%u", nr, i);
	CHECK(fake_vmcs_get(hv.cpus[cpu].vmcs_pa, VMCS_GUEST_RIP) == calls[cpu].rip + 3);
	CHECK(!(fake_vmcs_get(hv.cpus[cpu].vmcs_pa, VMCS_GUEST_INTERRUPTIBILITY) & INTR_BLOCK_STI));
	cds[cpu].rip += 3;
	check_cd_regs(cpu);
	CHECK(fake_cpus[cpu].vmcs == hv.cpus[cpu].vmcs_pa);
	if (calls[cpu].cpl || nr >= HVMETAL_HC_COUNT) {
		CHECKF(r == HVMETAL_RAX(calls[cpu].cpl ? HV_DENIED : HV_UNSUPPORTED), "call %#lx at CPL %u: %#lx", nr,
		       calls[cpu].cpl, r);
		return;
	}
	m = model_vm(in->rdi);
	if (names_vm(nr) && !m)
		CHECKF(r != HV_SUCCESS && (!owner_only(nr) || r == HVMETAL_RAX(HV_BAD_ARGUMENT)),
		       "call %#lx on no VM (%#lx): %#lx", nr, in->rdi, r);
	if (m && owner_only(nr)) {
		bool live = in->rsi < VM_VCPUS_MAX && m->vcpu[in->rsi].live;

		if (!live)
			CHECKF(r == HVMETAL_RAX(HV_BAD_ARGUMENT), "call %#lx on no vCPU %#lx: %#lx", nr, in->rsi, r);
		else if (m->vcpu[in->rsi].owner != cpu)
			CHECKF(r == HVMETAL_RAX(HV_DENIED), "call %#lx on cpu %u for vCPU %lu of cpu %u: %#lx", nr, cpu,
			       in->rsi, m->vcpu[in->rsi].owner, r);
	}
	if (m && (apic_vcpu_call(nr) || nr == HVMETAL_HC_VCPU_EXIT_INFO) && in->rsi < VM_VCPUS_MAX &&
	    m->vcpu[in->rsi].live && m->vcpu[in->rsi].owner == cpu) {
		if (nr == HVMETAL_HC_VCPU_EXIT_INFO)
			CHECKF(r == HV_SUCCESS || r == HVMETAL_RAX(HV_BAD_ARGUMENT), "EXIT_INFO: %#lx", r);
		else if (!m->accel)
			CHECKF(r == HVMETAL_RAX(HV_UNSUPPORTED), "APIC call %#lx on a VM without ACCEL_APIC: %#lx",
			       nr, r);
		else
			CHECKF(r != HVMETAL_RAX(HV_UNSUPPORTED), "APIC call %#lx on an ACCEL_APIC VM: unsupported", nr);
	}
	if (m && apic_vm_call(nr)) {
		/* Only a call whose arguments have a shape checks them (or copies) before the VM. */
		bool shaped = nr != HVMETAL_HC_VM_LAPIC_MSI && nr != HVMETAL_HC_VM_IOAPIC_INTR &&
			      nr != HVMETAL_HC_VM_APIC_BUS_FREQ;

		if (!m->accel)
			CHECKF(r == HVMETAL_RAX(HV_UNSUPPORTED) || (shaped && r == HVMETAL_RAX(HV_BAD_ARGUMENT)),
			       "APIC call %#lx on a VM without ACCEL_APIC: %#lx", nr, r);
		else
			CHECKF(r != HVMETAL_RAX(HV_UNSUPPORTED), "APIC call %#lx on an ACCEL_APIC VM: unsupported", nr);
	}
	if (m && nr == HVMETAL_HC_VCPU_RUN && r == HV_SUCCESS) {
		/* The exit info: VMX without ACCEL_APIC; never INJECT_EXCP or SMI; each code with its exit. */
		CHECKF(g->r9 == HV_VM_EXITINFO_VMX || (m->accel && (g->r9 == HV_VM_EXITINFO_INIT_AP ||
			g->r9 == HV_VM_EXITINFO_STARTUP_AP || g->r9 == HV_VM_EXITINFO_IOAPIC_EOI ||
			g->r9 == HV_VM_EXITINFO_APIC_ACCESS_READ)), "run: exit info %#lx", g->r9);
		if (g->r9 == HV_VM_EXITINFO_APIC_ACCESS_READ)
			CHECKF(g->rdx == VMX_REASON_APIC_ACCESS && (g->rsi >> 12 & 15) == 0,
			       "APIC_ACCESS_READ on exit %#lx qualification %#lx", g->rdx, g->rsi);
		else if (g->r9 != HV_VM_EXITINFO_VMX)
			CHECKF(g->rdx == VMX_REASON_WRMSR || g->rdx == VMX_REASON_APIC_ACCESS,
			       "exit info %#lx on exit %#lx", g->r9, g->rdx);
	}
	if (r == HV_SUCCESS && b->n)
		CHECKF(b->reachable, "call %#lx succeeded on a buffer that is not all the caller's RAM", nr);
	/* Only a copy-out writes the caller's RAM; a stray write shows at the next one, or at the end. */
	if (b->n && !calls[cpu].copy_in)
		check_ram(b, r == HV_SUCCESS);
}

/*
 * Fields that are hvmetal's alone (SDM vol. 3 appendix B): host state, every
 * control holding a host-physical address, the link pointer, the MSR-list
 * addresses; and VPID.  No VMM reads or writes them.
 */
static bool hvmetals_field(uint64_t field)
{
	static const uint32_t hpa[] = {
		0x0000, 0x2000, 0x2002, 0x2004, 0x2006, 0x2008, 0x200a, 0x200c, 0x200e, 0x2012,
		0x2014, 0x2016, 0x201a, 0x2024, 0x2026, 0x2028, 0x202a, 0x2030, 0x2038, 0x203a,
		0x203c, 0x2040, 0x2042, 0x2800,
	};

	if (((field >> 10) & 3) == 3)
		return true;
	for (unsigned i = 0; i < ARRAY_SIZE(hpa); i++)
		if ((field & ~1ull) == hpa[i])
			return true;
	return false;
}

/* What the model learns from a call that went through, and what it expects of it. */
static NO_COVERAGE void model_call(unsigned cpu, uint64_t nr, const struct gpr_frame *in,
				   const struct gpr_frame *g)
{
	struct mvm *m = model_vm(in->rdi);
	hv_return_t r = (hv_return_t)g->rax;

	if (calls[cpu].cpl || nr >= HVMETAL_HC_COUNT)
		return;
	switch (nr) {
	case HVMETAL_HC_VM_CREATE:
		if (r != HV_SUCCESS)
			break;
		CHECKF(!model_vm(g->rdx) && real_vm(g->rdx), "VM_CREATE gave handle %#lx", g->rdx);
		if (nmvms == MVMS) {	/* forget the oldest dead one */
			unsigned i = 0;

			while (i < nmvms && mvms[i].live)
				i++;
			CHECK(i < nmvms);
			mvms[i] = mvms[--nmvms];
		}
		memset(&mvms[nmvms], 0, sizeof(mvms[nmvms]));
		mvms[nmvms].handle = g->rdx;
		mvms[nmvms].live = true;
		mvms[nmvms].accel = in->rdi & HV_VM_ACCEL_APIC;
		CHECK(!real_vm(g->rdx)->apic == !mvms[nmvms].accel);
		space_set(&mvms[nmvms++], 0, true);
		break;
	case HVMETAL_HC_VM_DESTROY:
		if (!m)
			break;
		CHECKF(r == (m->nvcpus ? HV_BUSY : HV_SUCCESS), "VM_DESTROY with %u vCPUs: %#x",
		       m->nvcpus, r);
		if (r == HV_SUCCESS) {
			m->live = false;
			CHECK(!real_vm(in->rdi));
		}
		break;
	case HVMETAL_HC_VM_SPACE_CREATE:
		if (!m || r != HV_SUCCESS)
			break;
		CHECKF(!space_live(m, g->rdx) && real_space(in->rdi, g->rdx), "space %lu made twice", g->rdx);
		space_set(m, g->rdx, true);
		break;
	case HVMETAL_HC_VM_SPACE_DESTROY: {
		bool used = false;

		if (!m)
			break;
		for (unsigned i = 0; i < VM_VCPUS_MAX; i++)
			used |= m->vcpu[i].live && m->vcpu[i].asid == in->rsi;
		CHECKF(r == (in->rsi == 0 || !space_live(m, in->rsi) ? HV_BAD_ARGUMENT :
			     used ? HV_BUSY : HV_SUCCESS), "SPACE_DESTROY %lu: %#x", in->rsi, r);
		if (r == HV_SUCCESS) {
			space_set(m, in->rsi, false);
			CHECK(!real_space(in->rdi, in->rsi));
		}
		break;
	}
	case HVMETAL_HC_VCPU_CREATE:
		if (!m || r != HV_SUCCESS)
			break;
		CHECKF(g->rdx < VM_VCPUS_MAX && !m->vcpu[g->rdx].live, "vCPU %lu made twice", g->rdx);
		m->vcpu[g->rdx].live = true;
		m->vcpu[g->rdx].owner = cpu;
		m->vcpu[g->rdx].asid = 0;
		m->nvcpus++;
		break;
	case HVMETAL_HC_VCPU_DESTROY:
		if (!m || in->rsi >= VM_VCPUS_MAX || !m->vcpu[in->rsi].live || m->vcpu[in->rsi].owner != cpu)
			break;
		CHECKF(r == HV_SUCCESS, "VCPU_DESTROY of its own vCPU: %#x", r);
		m->vcpu[in->rsi].live = false;
		m->nvcpus--;
		break;
	case HVMETAL_HC_VCPU_ADOPT:
		/* The calling CPU owns it now: its destroy at the end comes from there. */
		if (m && r == HV_SUCCESS && in->rsi < VM_VCPUS_MAX && m->vcpu[in->rsi].live)
			m->vcpu[in->rsi].owner = cpu;
		break;
	case HVMETAL_HC_VCPU_SET_SPACE:
		if (r == HV_SUCCESS) {
			CHECK(m && space_live(m, in->rdx));
			m->vcpu[in->rsi].asid = (uint32_t)in->rdx;
		}
		break;
	case HVMETAL_HC_VCPU_INTERRUPT:
		if (m && in->rsi < VM_VCPUS_MAX && m->vcpu[in->rsi].live)
			CHECKF(r == HV_SUCCESS, "VCPU_INTERRUPT of a live vCPU: %#x", r);
		break;
	case HVMETAL_HC_VERSION:
		CHECK(r == HV_SUCCESS && g->rdx == HVMETAL_ABI_VERSION);
		break;
	case HVMETAL_HC_VMX_READ_VMCS:
	case HVMETAL_HC_VMX_WRITE_VMCS:
	case HVMETAL_HC_VMX_CAP_WRITE_VMCS:
		if (r == HV_SUCCESS)
			CHECKF(!hvmetals_field(in->rdx), "call %#lx let the VMM at field %#lx", nr, in->rdx);
		if (r == HV_SUCCESS && nr == HVMETAL_HC_VMX_READ_VMCS && in->rdx != VMCS_EXIT_REASON)
			CHECK(g->rdx == fake_vmcs_get(real_vm(in->rdi)->vcpus[in->rsi]->vmcs_pa,
						      (uint32_t)in->rdx));
		break;
	}
}


/*
 * A state put, then got by the next operation: what was put comes back (a
 * local APIC's current count may have run down; an IOAPIC put may have
 * delivered, setting remote IRR and delivery status).  Only when no guest ran
 * meanwhile (a kick's wait lets one take an interrupt).
 */
static struct {
	uint64_t nr, vm, obj;	/* the put's call, VM, vCPU or 8259 */
	unsigned op;		/* the operation that made it */
	uint8_t bytes[512];	/* the largest of the three */
} put;
_Static_assert(sizeof(hv_apic_state_ext_t) <= sizeof(put.bytes) && sizeof(hv_ioapic_state_ext_t) <= sizeof(put.bytes) &&
	       sizeof(hv_atpic_state_ext_t) <= sizeof(put.bytes), "put.bytes holds any state");
static unsigned op_index;
static bool guest_ran;		/* some guest ran during this operation */

static NO_COVERAGE bool any_guest(void)
{
	for (unsigned c = 0; c < fake_ncpus; c++)
		if (fake_cpus[c].mode != FC_IDLE)
			return true;
	return false;
}

static NO_COVERAGE void check_put_get(unsigned cpu, uint64_t nr, const struct gpr_frame *in)
{
	uint64_t obj = nr == HVMETAL_HC_VCPU_APIC_GET_STATE || nr == HVMETAL_HC_VCPU_APIC_PUT_STATE ? in->rsi :
		       nr == HVMETAL_HC_VM_ATPIC_GET_STATE || nr == HVMETAL_HC_VM_ATPIC_PUT_STATE ? in->rdx : 0;
	uint8_t got[sizeof(put.bytes)];
	size_t n = apic_struct_size(nr);

	switch (nr) {
	case HVMETAL_HC_VCPU_APIC_PUT_STATE: case HVMETAL_HC_VM_IOAPIC_PUT_STATE:
	case HVMETAL_HC_VM_ATPIC_PUT_STATE:
		if (guest_ran)
			break;
		put.nr = nr;
		put.vm = in->rdi;
		put.obj = obj;
		put.op = op_index;
		buffer_read(&calls[cpu].buf, put.bytes);
		break;
	case HVMETAL_HC_VCPU_APIC_GET_STATE: case HVMETAL_HC_VM_IOAPIC_GET_STATE:
	case HVMETAL_HC_VM_ATPIC_GET_STATE:
		if (guest_ran || put.op + 1 != op_index || put.nr != nr + 1 || put.vm != in->rdi || put.obj != obj)
			break;
		buffer_read(&calls[cpu].buf, got);
		if (nr == HVMETAL_HC_VCPU_APIC_GET_STATE) {
			size_t ccr = offsetof(hv_apic_state_ext_t, state.ccr_timer);
			uint32_t a, b;

			memcpy(&a, put.bytes + ccr, 4);
			memcpy(&b, got + ccr, 4);
			CHECKF(b <= a, "APIC state: current count %u after %u was put", b, a);
			memcpy(got + ccr, &a, 4);
		}
		if (nr == HVMETAL_HC_VM_IOAPIC_GET_STATE)
			for (unsigned p = 0; p < 32; p++) {
				size_t off = offsetof(hv_ioapic_state_ext_t, state.rtbl) + p * 8;
				uint64_t a, b, rs = (1ull << 14) | (1ull << 12);

				memcpy(&a, put.bytes + off, 8);
				memcpy(&b, got + off, 8);
				CHECKF((a & ~rs) == (b & ~rs), "IOAPIC entry %u: %#lx after %#lx was put", p, b, a);
				memcpy(got + off, &a, 8);
			}
		for (size_t i = 0; i < n; i++)
			CHECKF(got[i] == put.bytes[i], "call %#lx: byte %zu of the state is %#x, %#x was put", nr, i,
			       got[i], put.bytes[i]);
		break;
	}
}

/* What a copy-out put in the caller's buffer: hvmetal's state. */
static NO_COVERAGE void check_output(unsigned cpu, uint64_t nr, const struct gpr_frame *in,
				     const struct gpr_frame *g)
{
	union {
		struct hvmetal_info info;
		struct hvmetal_selfcheck sc;
		struct hvmetal_translation t;
		struct hvmetal_vm_stats st;
		uint8_t fp[FAKE_XSAVE_MAX];
	} out;
	struct mvm *m = model_vm(in->rdi);
	struct vcpu *v;

	if (g->rax != HV_SUCCESS || calls[cpu].cpl)
		return;
	switch (nr) {
	case HVMETAL_HC_INFO:
		buffer_read(&calls[cpu].buf, &out);
		CHECK(out.info.abi_version == HVMETAL_ABI_VERSION && out.info.region_base == FAKE_REGION &&
		      out.info.region_size == FAKE_REGION_END - FAKE_REGION &&
		      out.info.pool_total == pool_total_bytes(&host_pool));
		break;
	case HVMETAL_HC_SELFCHECK:
		buffer_read(&calls[cpu].buf, &out);
		CHECK(out.sc.canary_intact == 1 && out.sc.code_intact == 1);
		break;
	case HVMETAL_HC_VM_TRANSLATE: {
		struct ept *e = real_space(in->rdi, in->rsi);
		unsigned i = 0;

		CHECK(e && m);
		buffer_read(&calls[cpu].buf, &out);
		fake_ept_view((uintptr_t)e->pml4, apic_page_of(in->rdi), &after);
		while (i < after.nruns && after.runs[i].end <= in->rdx)
			i++;
		CHECKF(i < after.nruns && after.runs[i].gpa <= in->rdx &&
		       out.t.hpa == after.runs[i].hpa + (in->rdx - after.runs[i].gpa) &&
		       out.t.flags == ((after.runs[i].perms & EPT_PERM_R ? HV_MEMORY_READ : 0) |
				       (after.runs[i].perms & EPT_PERM_W ? HV_MEMORY_WRITE : 0) |
				       (after.runs[i].perms & EPT_PERM_X ? HV_MEMORY_EXEC : 0)),
		       "TRANSLATE of %#lx: hpa %#lx flags %#lx", in->rdx, out.t.hpa, out.t.flags);
		break;
	}
	case HVMETAL_HC_VM_STATS: {
		uint64_t tables = 0;

		CHECK(m);
		buffer_read(&calls[cpu].buf, &out);
		for (uint64_t a = 0; a < MSPACES; a++)
			if (space_live(m, a))
				tables += real_space(in->rdi, a)->table_pages;
		CHECKF(out.st.spaces == space_count(m) && out.st.table_pages == tables,
		       "STATS: %lu spaces, %lu tables; %u and %lu expected", out.st.spaces,
		       out.st.table_pages, space_count(m), tables);
		break;
	}
	case HVMETAL_HC_VCPU_READ_FPSTATE:
		v = real_vm(in->rdi)->vcpus[in->rsi];
		buffer_read(&calls[cpu].buf, &out);
		CHECK(!memcmp(out.fp, v->xsave, vcpu_xstate_size()));
		break;
	case HVMETAL_HC_VCPU_EXIT_INFO:
		v = real_vm(in->rdi)->vcpus[in->rsi];
		buffer_read(&calls[cpu].buf, &out);
		CHECK(!memcmp(out.fp, &v->exit_info, sizeof(v->exit_info)));
		CHECK(m->accel || v->exit_info.code == HV_VM_EXITINFO_VMX);
		break;
	}
	check_put_get(cpu, nr, in);
}

/* Space changes: all or nothing, and exactly what the call asks. */
static NO_COVERAGE void ept_call(unsigned cpu, uint64_t nr, struct gpr_frame *g, bool pre)
{
	static bool had;
	static struct fake_ept_view ref;
	static bool ref_ok;
	uint64_t asid = nr == HVMETAL_HC_VMX_SET_APIC_ADDRESS ? 0 :
			nr == HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE ? g->rcx : g->rsi;
	struct mvm *m = model_vm(g->rdi);
	struct ept *e;
	const char *what = nr == HVMETAL_HC_VM_MAP ? "map" : nr == HVMETAL_HC_VM_UNMAP ? "unmap" :
			   nr == HVMETAL_HC_VM_PROTECT ? "protect" : "APIC page";

	if (pre) {
		had = false;
		if (calls[cpu].cpl || !m || !space_live(m, asid))
			return;
		e = real_space(g->rdi, asid);
		CHECK(e);
		fake_ept_view((uintptr_t)e->pml4, apic_page_of(g->rdi), &before);
		had = true;
		if (nr == HVMETAL_HC_VM_MAP)
			ref_ok = !(g->rdx & (K4 - 1)) && g->r8 && g->r8 <= 64 * M2 &&
				 ref_map(cpu, g->rdx, g->rcx, g->r8, ept_perms_of(g->r9), &ref);
		return;
	}
	if (!had)
		return;
	e = real_space(g->rdi, asid);
	CHECK(e);
	fake_ept_view((uintptr_t)e->pml4, apic_page_of(g->rdi), &after);
	check_tables(e, &after);
	if (g->rax != HV_SUCCESS) {
		check_runs(&before, &after, what);
		return;
	}
	switch (nr) {
	case HVMETAL_HC_VM_MAP:
		CHECKF(g->r8 > 64 * M2 || ref_ok, "map of %#lx+%#lx succeeded; not all the caller's RAM",
		       g->rdx, g->r8);
		if (!ref_ok)
			break;
		CHECK(!runs_overlap(&before, g->rcx, g->rcx + g->r8));
		runs_add(&before, &ref);
		check_runs(&want, &after, what);
		break;
	case HVMETAL_HC_VM_UNMAP:
		runs_change(&before, g->rdx, g->rdx + g->rcx, 0);
		check_runs(&want, &after, what);
		break;
	case HVMETAL_HC_VM_PROTECT:
		runs_change(&before, g->rdx, g->rdx + g->rcx, ept_perms_of(g->r8));
		check_runs(&want, &after, what);
		break;
	case HVMETAL_HC_VMX_SET_APIC_ADDRESS:
	case HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE:
		ref.nruns = 0;
		ref.overflow = false;
		if (!runs_overlap(&before, g->rdx, g->rdx + K4))
			runs_push(&ref, (struct fake_run){ g->rdx, g->rdx + K4, apic_page_of(g->rdi),
							   EPT_PERM_R | EPT_PERM_W });
		runs_add(&before, &ref);
		check_runs(&want, &after, what);
		break;
	}
}

static bool changes_space(uint64_t nr)
{
	return nr == HVMETAL_HC_VM_MAP || nr == HVMETAL_HC_VM_UNMAP || nr == HVMETAL_HC_VM_PROTECT ||
	       nr == HVMETAL_HC_VMX_SET_APIC_ADDRESS || nr == HVMETAL_HC_VMX_SET_APIC_ADDRESS_SPACE;
}

static bool trace;		/* HC_TRACE=1 in the environment: every call on stderr */

static void finish_call(unsigned cpu)
{
	uint64_t nr = calls[cpu].nr;

	if (trace)
		fprintf(stderr, "cpu %u cpl %u call %#lx (%#lx %#lx %#lx %#lx %#lx %#lx) -> %#lx rdx %#lx\n",
			cpu, calls[cpu].cpl, nr, calls[cpu].in.rdi, calls[cpu].in.rsi, calls[cpu].in.rdx,
			calls[cpu].in.rcx, calls[cpu].in.r8, calls[cpu].in.r9, calls[cpu].g.rax,
			calls[cpu].g.rdx);

	check_call(cpu);
	model_call(cpu, nr, &calls[cpu].in, &calls[cpu].g);
	check_output(cpu, nr, &calls[cpu].in, &calls[cpu].g);
	/*
	 * Each NMI the control domain sent arrived as a kick or beside one: it gets
	 * one NMI back at its next entry for any number sent, none if none was
	 * (issue 9, defect 14; the fake CPU merges NMIs that meet in a guest).
	 */
	CHECKF(!!(hv.cpus[cpu].pending & PENDING_NMI) == (fake_cpus[cpu].cd_nmis > 0),
	       "cpu %u: the control domain sent it %u NMIs; it gets %s", cpu, fake_cpus[cpu].cd_nmis,
	       hv.cpus[cpu].pending & PENDING_NMI ? "one" : "none");
	fake_cpus[cpu].cd_nmis = 0;
	percpu_clear_pending(&hv.cpus[cpu], PENDING_NMI | PENDING_CD_EPT);
}

/* Calls that finished in a fiber while the harness was elsewhere. */
static void take_finished(void)
{
	for (unsigned c = 0; c < fake_ncpus; c++)
		if (fake_take_done(c)) {
			fake_set_current(c);
			finish_call(c);
		}
}

static const struct op *cur_op;	/* the operation under way: its bytes detail APIC exits */

static void hypercall(unsigned cpu, unsigned cpl, bool sti, uint64_t nr, const uint64_t a[6],
		      const struct arg *script)
{
	struct gpr_frame *g = &calls[cpu].g;
	size_t pool0;

	memset(g, 0, sizeof(*g));
	g->rax = nr;
	g->rdi = a[0];
	g->rsi = a[1];
	g->rdx = a[2];
	g->rcx = a[3];
	g->r8 = a[4];
	g->r9 = a[5];
	g->rbx = 0xb0b0b0b0;
	g->r15 = nr ^ 0x1515;
	calls[cpu].in = *g;
	calls[cpu].nr = nr;
	calls[cpu].cpl = cpl;
	calls[cpu].rip = cds[cpu].rip;
	{
		uint64_t gva = 0, n = buffer_of(nr, g, &gva, &calls[cpu].copy_in);

		ref_buffer(cpu, gva, n, !calls[cpu].copy_in, &calls[cpu].buf);
	}
	fake_set_current(cpu);
	cd_vmcs_prepare(cpu, cpl, sti);
	pool0 = pool_free_bytes(&host_pool);
	if (changes_space(nr))
		ept_call(cpu, nr, &calls[cpu].in, true);
	if (nr == HVMETAL_HC_VCPU_RUN && !cpl) {
		uint8_t ev[4] = {
			(uint8_t)(script->sel & 15), (uint8_t)(script->sel >> 4),
			(uint8_t)(script->lo & 15), (uint8_t)(script->lo >> 4),
		};

		/* Effects bit 7: events 8-15 are the APIC exits (without it: events 0-7 interrupting a delivery). */
		for (unsigned i = 0; script->hi & 0x80 && i < 4; i++)
			if (ev[i] & 8)
				ev[i] = FE_APIC | (ev[i] & 7);
		if (cur_op)
			fake_guest_params(cpu, (const uint8_t *)cur_op, sizeof(*cur_op));

		if (!fake_start_call(cpu, g, ev, 4, script->hi))
			return;	/* its guest runs on: checked when it ends */
	} else {
		hypercall_fast(g);
	}
	finish_call(cpu);
	if (cpl || nr >= HVMETAL_HC_COUNT)
		CHECK(pool_free_bytes(&host_pool) == pool0);
	if (changes_space(nr))
		ept_call(cpu, nr, g, false);
}

/* ---- machine ops ---- */

static NO_COVERAGE uint64_t pte_target(const struct arg *a)
{
	unsigned p = a->lo | a->hi << 8;

	switch (a->sel % 8) {
	case 0:
	case 1:
		return FAKE_RAM + (p % FAKE_FRAMES) * K4;
	case 2:
		return FAKE_BIG + (p & 0x8000 ? 0 : (p % 512) * K4);
	case 3:
		return FAKE_POOL + (p % 64) * K4;	/* hvmetal's pool: its tables, vCPUs ... */
	case 4:
		return hv.canary_page;
	case 5:
		return FAKE_REGION + (p % 16) * K4;	/* hvmetal's image: nothing behind it */
	case 6:
		return 0xfee00000ull + (p % 4) * K4;	/* MMIO */
	default:
		return (uint64_t)p << 36;		/* anywhere, beyond MAXPHYADDR too */
	}
}

static void cd_msr_write(unsigned cpu, unsigned i, uint64_t val)
{
	struct percpu *c = &hv.cpus[cpu];

	if (i == FM_KGSBASE) {	/* no exit: SWAPGS and WRMSR change it freely */
		val = (uint64_t)((int64_t)(val << 16) >> 16);
	} else if (i == FM_LSTAR || i == FM_CSTAR) {
		val = (uint64_t)((int64_t)(val << 16) >> 16);
	} else if (i == FM_SFMASK || i == FM_TSC_AUX) {
		val &= 0xffffffff;
	} else if (i == FM_BNDCFGS) {
		val = (uint64_t)((int64_t)(val << 16) >> 16) & ~0xffcull;
	}
	if (i >= VCPU_MSR_SWAPPED || !(vcpu_swapped_mask & (1u << i)))
		return;
	cds[cpu].r.msr[i] = fake_cpus[cpu].r.msr[i] = val;
	if (i != FM_KGSBASE) {	/* its WRMSR exits; cd_msr.c keeps the value */
		c->cd_msr[i] = val;
		c->cd_msr_gen++;
	}
}

static void cd_regs_op(unsigned cpu, const struct op *o)
{
	unsigned p = o->a[1].lo | o->a[1].hi << 8;
	struct fake_regs *r = &cds[cpu].r;

	switch (o->a[0].lo % 6) {
	case 0:
		r->cr2 = (uint64_t)p << 12;
		break;
	case 1:
		r->dr[p & 3] = 0xffffffff80000000ull | p;
		r->dr6 = 0xffff0ff0 | (p >> 12);
		break;
	case 2: {	/* XSETBV exits: hvmetal checks it and keeps cd_xcr0 */
		uint64_t x = (p & xstate_supported) | 1;

		if ((x & 4) && !(x & 2))
			x &= ~4ull;
		if ((x & 0xe0) && ((x & 0xe0) != 0xe0 || !(x & 4)))
			x &= ~0xe0ull;
		if ((x & 0x18) != 0x18)
			x &= ~0x18ull;
		if ((x & 0x60000) != 0x60000)
			x &= ~0x60000ull;
		r->xcr0 = x;
		hv.cpus[cpu].cd_xcr0 = x;
		break;
	}
	case 3:
		if (fake_model.xfd && fake_model.xsave == 3)
			r->msr[FM_XFD] = p & 1 ? 1ull << 18 : 0;
		break;
	case 4:
		r->ext[160 + p % 256] ^= (uint8_t)(p >> 8 | 1);
		break;
	default:
		cds[cpu].cr0 ^= p & 1 ? CR0_WP_BIT : 0;
		cds[cpu].cr4 ^= p & 2 ? CR4_SMAP_BIT : 0;
		cds[cpu].rflags ^= p & 4 ? RFLAGS_AC_BIT : 0;
		break;
	}
	fake_cpus[cpu].r = *r;
}


/*
 * The caller prepares an APIC call's structure in its slot: the version right
 * or wrong, some field, random contents, or an LSC entry whose code pages are
 * its RAM, hvmetal's memory, unmapped or unaligned.
 */
static NO_COVERAGE void apic_prep(const struct op *o, uint64_t v)
{
	static const uint64_t slots[] = { SLOT_APIC, SLOT_IOAPIC, SLOT_ATPIC, SLOT_LSC };
	static const uint64_t sizes[] = { sizeof(hv_apic_state_ext_t), sizeof(hv_ioapic_state_ext_t),
					  sizeof(hv_atpic_state_ext_t), sizeof(struct hvmetal_lsc_entry) };
	unsigned k = o->a[0].sel % 4, what = (o->a[0].hi >> 4) & 7;
	uint64_t off = slots[k] - WIN, size = sizes[k];

	switch (what) {
	case 0: {
		uint32_t ver = o->a[0].lo & 1 ? (uint32_t)v : HV_APIC_STATE_EXT_VER;

		ram_write(off, &ver, 4);
		break;
	}
	case 6: {	/* random contents, a right version */
		uint64_t x = v | 1;
		uint32_t ver = HV_APIC_STATE_EXT_VER;

		for (uint64_t i = 0; i + 8 <= size; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			ram_write(off + i, &x, 8);
		}
		if (k < 3)
			ram_write(off, &ver, 4);
		break;
	}
	case 7:
		if (k == 3) {
			static const uint64_t uvas[] = { 0, FAKE_REGION, FAKE_POOL, WIN + FAKE_RAM_SIZE, WIN + 1,
							 WIN + 0x400000 };
			unsigned p1 = o->a[1].lo, p2 = o->a[1].hi;
			struct hvmetal_lsc_entry e = {
				.rip = 0x1000 - (v & 15), .ilen = (uint32_t)(v >> 4 & 15), .cs = v >> 8 & 1 ? 0x10 : 8,
				.kind = (uint8_t)(v >> 9 & 3), .count = (uint8_t)(v >> 11 & 3),
				.reg = (uint32_t)(v >> 16 & 31), .imm = (uint32_t)(v >> 32),
				.uva = { p1 & 0x80 ? uvas[p1 % ARRAY_SIZE(uvas)] : WIN + (p1 % FAKE_FRAMES) * K4,
					 p2 & 0x80 ? uvas[p2 % ARRAY_SIZE(uvas)] : WIN + (p2 % FAKE_FRAMES) * K4 },
			};

			ram_write(off, &e, sizeof(e));
		}
		break;
	default:	/* a field: 4 or 8 bytes anywhere in it */
		ram_write(off + (o->a[0].lo * 4) % (size - 8), &v, what & 1 ? 4 : 8);
		break;
	}
}

static void machine_op(const struct op *o, unsigned cpu)
{
	unsigned kind = (o->kind - 0xa8) % M_KINDS;
	unsigned p0 = o->a[0].lo | o->a[0].hi << 8;

	switch (kind) {
	case M_POKE_PTE:
	case M_POKE_PTE2:
	case M_POKE_PTE3: {
		unsigned fl = o->a[2].lo | o->a[2].hi << 8;
		uint64_t v = pte_target(&o->a[1]) | (fl & 0xfff & ~0x80ull) |
			     (fl & 0x1000 ? PT_PS : 0) | (fl & 0x2000 ? PT_NX : 0) |
			     (fl & 0x4000 ? 1ull << 51 : 0);

		pte(o->a[0].sel % 4 ? o->a[0].sel % 4 : p0 % FAKE_FRAMES, p0 % 512, v);
		break;
	}
	case M_POKE_DATA: {
		uint64_t v = (uint64_t)o->a[1].lo | (uint64_t)o->a[1].hi << 8 |
			     (uint64_t)o->a[2].lo << 16 | (uint64_t)o->a[2].hi << 24 |
			     (uint64_t)o->a[3].lo << 32 | (uint64_t)o->a[3].hi << 40 |
			     (uint64_t)o->a[4].lo << 48 | (uint64_t)o->a[4].hi << 56;

		if (o->a[0].hi & 0x80)
			apic_prep(o, v);
		else
			ram_write((p0 % FAKE_FRAMES) * K4 + ((o->a[0].hi & 1u) << 8 | o->a[0].sel) * 8, &v, 8);
		break;
	}
	case M_STARVE:
		starve(p0 % 48);
		break;
	case M_UNSTARVE:
		unstarve();
		break;
	case M_GUEST_EVENT:
		if (fake_cpus[cpu].mode == FC_GUEST) {
			fake_guest_params(cpu, (const uint8_t *)o, sizeof(*o));
			fake_guest_event(cpu, o->a[0].lo);
		}
		break;
	case M_CD_MSR:
		if (fake_cpus[cpu].mode == FC_IDLE)
			cd_msr_write(cpu, o->a[0].lo % 7, decode_any(&o->a[1]));
		break;
	case M_CD_REGS:
		if (fake_cpus[cpu].mode == FC_IDLE)
			cd_regs_op(cpu, o);
		break;
	case M_CD_NMI: {
		unsigned t = o->a[0].lo % fake_ncpus, k = (t + 1) % fake_ncpus, s;

		/* A kick from another CPU on its way too: in a guest the two NMIs meet. */
		if ((o->a[0].hi & 1) && k != t && fake_cpus[k].mode != FC_GUEST) {
			fake_set_current(k);
			kick_send(&hv.cpus[t]);
		}
		/* The sender: the next CPU in its control domain; t itself, when it is, if a bit says so. */
		s = t;
		if (!(o->a[0].hi & 2) || fake_cpus[t].mode == FC_GUEST) {
			s = (t + 1) % fake_ncpus;
			for (unsigned n = 1; n < fake_ncpus && fake_cpus[s].mode == FC_GUEST; n++)
				s = (s + 1) % fake_ncpus;
		}
		if (fake_cpus[s].mode == FC_GUEST)
			break;	/* every CPU is in a guest: none can send */
		fake_set_current(s);
		kick_cd_nmi(&hv.cpus[t]);
		fake_cpus[t].cd_nmis++;
		if (fake_cpus[t].mode == FC_GUEST)
			fake_guest_event(t, FE_HLT);	/* the NMI goes first */
		break;
	}
	}
}

/* ---- after each op ---- */

static NO_COVERAGE void check_machine(void)
{
	const uint64_t *canary = (const uint64_t *)(uintptr_t)hv.canary_page;

	for (unsigned c = 0; c < fake_ncpus; c++) {
		CHECKF(fake_cpus[c].locks == 0, "cpu %u holds %u locks between calls", c, fake_cpus[c].locks);
		if (fake_cpus[c].mode != FC_GUEST)
			CHECKF(fake_cpus[c].vmcs == hv.cpus[c].vmcs_pa,
			       "cpu %u: current VMCS %#lx is not the control domain's", c, fake_cpus[c].vmcs);
	}
	static uint64_t intact[K4 / 8];

	if (intact[0] != hv.canary_value)
		for (unsigned i = 0; i < K4 / 8; i++)
			intact[i] = hv.canary_value;
	CHECKF(!memcmp(canary, intact, K4), "the canary page changed");
	for (unsigned i = 0; i < VM_MAX; i++)
		CHECK(!vms[i].lock.locked && (!vms[i].handle || !vms[i].apic || !vms[i].apic->lock.locked));
	fake_check_active_vmcs();
	fake_observe();
}

/* Everything goes, from its owner; the pool is back where it started. */
static void teardown(void)
{
	uint64_t a[6] = { 0 };

	fake_finish();
	take_finished();
	check_ram(&(struct buffer){ .n = 0 }, false);
	unstarve();
	for (unsigned i = 0; i < nmvms; i++) {
		struct mvm *m = &mvms[i];
		struct vm *vm = m->live ? real_vm(m->handle) : NULL;

		if (!m->live)
			continue;
		CHECK(vm);
		for (uint64_t s = 0; s < MSPACES; s++) {
			struct ept *e = space_live(m, s) ? vm_space(vm, (uint32_t)s) : NULL;

			CHECK(e || !space_live(m, s));
			if (e)
				fake_ept_view((uintptr_t)e->pml4, (uintptr_t)vm->apic_access_page, &after);
		}
		for (unsigned j = 0; j < VM_VCPUS_MAX; j++) {
			if (!m->vcpu[j].live)
				continue;
			a[0] = m->handle;
			a[1] = j;
			hypercall(m->vcpu[j].owner, 0, false, HVMETAL_HC_VCPU_DESTROY, a, NULL);
			CHECK(calls[m->vcpu[j].owner].g.rax == HV_SUCCESS);
		}
		a[0] = m->handle;
		hypercall(0, 0, false, HVMETAL_HC_VM_DESTROY, a, NULL);
		CHECK(calls[0].g.rax == HV_SUCCESS);
	}
	for (unsigned i = 0; i < VM_MAX; i++)
		CHECK(!vms[i].handle);
	CHECKF(pool_free_bytes(&host_pool) == pool_baseline, "the pool has %zu bytes free, %zu at start",
	       pool_free_bytes(&host_pool), pool_baseline);
	check_machine();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("HC_TRACE") != NULL;
	fake_machine_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header h;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	if (!setup(&h))
		return 0;
	for (unsigned n = 0; n < MAX_OPS && size >= sizeof(struct op); n++) {
		struct op o;
		unsigned cpu, cpl;
		uint64_t a[6], nr;

		memcpy(&o, data, sizeof(o));
		data += sizeof(o);
		size -= sizeof(o);
		cur_op = &o;
		op_index = n + 1;
		guest_ran = any_guest();
		cpu = (o.flags & 3) % fake_ncpus;
		cpl = ((o.flags >> 2) & 3) == 3 ? (o.flags & 0x10 ? 1 : 3) : 0;
		if (o.kind >= 0xa8) {
			machine_op(&o, cpu);
		} else if (fake_cpus[cpu].mode == FC_GUEST) {
			fake_guest_params(cpu, (const uint8_t *)&o, sizeof(o));
			fake_guest_event(cpu, o.kind);	/* that CPU is in a guest: it exits */
		} else {
			nr = o.kind < 0xa0 ? o.kind % (HVMETAL_HC_COUNT + 1) :
			     o.kind & 1 ? (uint64_t)o.kind << 32 | o.kind : ~0ull - (o.kind & 6);
			for (unsigned i = 0; i < 6; i++)
				a[i] = decode(&o.a[i], nr, i);
			hypercall(cpu, cpl, o.flags & 0x20, nr, a, &o.a[4]);
		}
		take_finished();
		check_machine();
	}
	cur_op = NULL;
	put.op = 0;
	teardown();
	return 0;
}
