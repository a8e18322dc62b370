/*
 * The fake machine under fuzz_hypercall: up to FAKE_CPUS CPUs with the
 * registers, MSRs and VMX of the model an input chooses, physical memory laid
 * out as fake_cpu.h says, and what the core's host build lacks (its globals,
 * panic, the VM-entry stub).  It is strict where real hardware is strict and
 * checks, as a CPU cannot, what hvmetal promises:
 *
 * - MSRs, CPUID, XSETBV, XRSTOR, MOV to DR6 fault (a panic here) on what
 *   hardware refuses: an MSR the model lacks, a non-canonical address, XCR0
 *   or an XSAVE area XRSTOR would refuse, an armed IA32_XFD.
 * - VMCLEAR, VMPTRLD, VMREAD and VMWRITE work on a VMCS kept in its own region
 *   (a pool page), fail as the SDM says (revision, unsupported or read-only
 *   field, no current VMCS); a VMCS is never active on two CPUs, never cleared
 *   from another one, never freed while active (fake_check_active_vmcs).
 * - Each CPU caches the EPT translations and tables of every EPTP it ran a
 *   guest with until INVEPT drops them: a VM entry with a cached translation
 *   that is gone, narrowed or moved, or a table no longer in the tree, is a
 *   missed invalidation; so is any of that while a guest runs on, once another
 *   CPU's call has returned (fake_observe); a guest's EPT maps only
 *   control-domain RAM and its VM's APIC page, with tables that are pool pages
 *   in use.
 * - At every VM entry: the host state is this CPU's, the controls are within
 *   the CPU's capabilities and keep hvmetal's own (interrupt and NMI exiting,
 *   EPT, MSR bitmaps, no I/O bitmaps, no MSR lists ...), every field holding a
 *   host-physical address points at this vCPU's own pages, its MSR bitmap lets
 *   through only MSRs hvmetal switches, and the CPU holds the guest's CR2, DRs,
 *   XCR0, extended state and swapped MSRs (after its first entry of a run:
 *   what the guest left there).
 *
 * Guests run in fibers: VCPU_RUN runs in its CPU's own fiber, and a guest
 * that runs on (FE_RUN_ON) suspends there while other CPUs make calls.  A kick
 * (an NMI IPI through the x2APIC ICR) to such a CPU is delivered when the
 * sender waits (cpu_pause): the guest exits, and the fiber carries on until
 * its guest runs on again or its call ends.  These are the only points where
 * CPUs take turns; spin_lock finding a lock held is therefore a lock leaked or
 * held while waiting for another CPU.
 */
#include "fake_cpu.h"	/* first: it renames hvmetal's instruction wrappers away */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sanitizer/common_interface_defs.h>

#include <Hypervisor/hv_arch_vmx.h>
#include "ept/ept.h"
#include "ept/ept_identity.h"
#include "hypercall/hypercall.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "kernel/kick.h"
#include "kernel/pool.h"
#include "vm/vcpu.h"
#include "vm/vm.h"
#include "vmx/vmcs_policy.h"
#include "vmx/vmx_bits.h"
#include "vmx/vmx_cpu.h"

/* APIC virtualization's secondary controls (vm/vcpu_apicv.c). */
#define APICV_BITS	(CPU_BASED2_X2APIC | CPU_BASED2_APIC_REG_VIRT | CPU_BASED2_VIRT_INTR_DELIVERY)
#define NO_COVERAGE	__attribute__((no_sanitize("coverage")))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct fake_model fake_model;
struct fake_cpu fake_cpus[FAKE_CPUS];
unsigned fake_ncpus;
uint64_t fake_tsc;
static unsigned current;

/* What the core's host build does not link. */
struct pool host_pool;
struct host_state host_state;
struct hvmetal hv;

/* ---- failures ---- */

static char note[512];

void fake_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
}

void fake_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: %s%s%s (cpu %u)\n", file, line, what, note[0] ? ": " : "", note,
		current);
	abort();
}

void panic(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hvmetal: PANIC (cpu %u): ", current);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

void cpu_halt_forever(void)
{
	fake_fail(__FILE__, __LINE__, "hvmetal halted a CPU");
}

/* ---- memory ---- */

NO_COVERAGE bool fake_cd_ram(uint64_t pa, uint64_t n)
{
	return n && pa + n > pa &&
	       ((pa >= FAKE_RAM && pa + n <= FAKE_RAM + FAKE_RAM_SIZE) ||
		(pa >= FAKE_BIG && pa + n <= FAKE_BIG + FAKE_BIG_SIZE));
}

NO_COVERAGE uint8_t *fake_ram_byte(uint64_t pa)
{
	if (pa >= FAKE_BIG)
		pa = FAKE_RAM + (pa - FAKE_BIG) % FAKE_RAM_SIZE;
	return (uint8_t *)(uintptr_t)pa;
}

NO_COVERAGE bool fake_pool_page_used(uint64_t pa)
{
	uint64_t i = (pa - host_pool.base) / FAKE_PG;

	return !(pa & (FAKE_PG - 1)) && pa >= host_pool.base && i < host_pool.npages &&
	       (host_pool.bitmap[i / 64] >> (i % 64) & 1);
}

static bool in_region(uint64_t pa)
{
	return pa >= FAKE_REGION && pa < FAKE_REGION_END;
}

static void map_at(uint64_t addr, uint64_t size, int prot, int flags, int fd, off_t off)
{
	void *p = mmap((void *)(uintptr_t)addr, size, prot, flags | MAP_FIXED_NOREPLACE, fd, off);

	if (p != (void *)(uintptr_t)addr) {
		fprintf(stderr, "fake_cpu: cannot map %#lx: %p\n", addr, p);
		abort();
	}
}

/* ---- fibers ---- */

#define FIBER_STACK	(512 * 1024)

struct fiber {
	ucontext_t ctx;
	void *stack;
	void *fake_stack;
};

static struct fiber fibers[FAKE_CPUS];
static ucontext_t main_ctx;
static void *main_fake_stack;
static const void *main_stack;
static size_t main_stack_size;
static int in_fiber = -1;		/* the CPU whose fiber runs, -1: the harness's context */
static bool finishing;			/* fake_finish: guests exit for good */

static void to_fiber(unsigned c)
{
	unsigned back = current;

	CHECKF(fake_cpus[back].locks == 0, "cpu %u switches away holding %u locks", back,
	       fake_cpus[back].locks);
	current = c;
	in_fiber = (int)c;
	__sanitizer_start_switch_fiber(&main_fake_stack, fibers[c].stack, FIBER_STACK);
	swapcontext(&main_ctx, &fibers[c].ctx);
	__sanitizer_finish_switch_fiber(main_fake_stack, NULL, NULL);
	in_fiber = -1;
	current = back;
}

static void to_main(unsigned c, bool finished)
{
	CHECKF(fake_cpus[c].locks == 0, "a guest runs on holding %u locks", fake_cpus[c].locks);
	__sanitizer_start_switch_fiber(finished ? NULL : &fibers[c].fake_stack, main_stack,
				       main_stack_size);
	swapcontext(&fibers[c].ctx, &main_ctx);
	__sanitizer_finish_switch_fiber(fibers[c].fake_stack, &main_stack, &main_stack_size);
}

static void check_saved_guest(struct fake_cpu *fc, const struct vcpu *v);
static struct vcpu *fiber_guest[FAKE_CPUS];

static void fiber_main(void)
{
	unsigned c = (unsigned)in_fiber;
	struct fake_cpu *fc = &fake_cpus[c];

	__sanitizer_finish_switch_fiber(NULL, &main_stack, &main_stack_size);
	hypercall_fast(fc->call);
	if (fc->entered)
		check_saved_guest(fc, fiber_guest[c]);
	fc->mode = FC_IDLE;
	fc->done = true;
	to_main(c, true);
	abort();	/* never resumed */
}

bool fake_start_call(unsigned cpu, struct gpr_frame *g, const uint8_t *script, unsigned n,
		     uint8_t effects)
{
	struct fake_cpu *fc = &fake_cpus[cpu];

	CHECK(in_fiber < 0 && fc->mode == FC_IDLE && n <= ARRAY_SIZE(fc->script));
	memcpy(fc->script, script, n);
	fc->nscript = n;
	fc->effects = effects;
	fc->call = g;
	fc->done = false;
	fc->entered = false;
	fc->drained = 0;
	fc->mode = FC_CALL;
	getcontext(&fibers[cpu].ctx);
	fibers[cpu].ctx.uc_stack.ss_sp = fibers[cpu].stack;
	fibers[cpu].ctx.uc_stack.ss_size = FIBER_STACK;
	fibers[cpu].ctx.uc_link = NULL;
	makecontext(&fibers[cpu].ctx, fiber_main, 0);
	to_fiber(cpu);
	return fake_take_done(cpu);
}

bool fake_take_done(unsigned cpu)
{
	bool d = fake_cpus[cpu].done;

	fake_cpus[cpu].done = false;
	return d;
}

#define FE_NMI		0x20	/* internal: an NMI made the guest exit */

void fake_guest_params(unsigned cpu, const uint8_t *p, unsigned n)
{
	CHECK(n <= sizeof(fake_cpus[cpu].param));
	memset(fake_cpus[cpu].param, 0, sizeof(fake_cpus[cpu].param));
	memcpy(fake_cpus[cpu].param, p, n);
	fake_cpus[cpu].pidx = 0;
}

void fake_guest_event(unsigned cpu, uint8_t event)
{
	CHECK(in_fiber < 0 && fake_cpus[cpu].mode == FC_GUEST);
	fake_cpus[cpu].resume = fake_cpus[cpu].nmi ? FE_NMI : event;
	to_fiber(cpu);
}

void fake_finish(void)
{
	finishing = true;
	for (unsigned c = 0; c < fake_ncpus; c++)
		while (fake_cpus[c].mode == FC_GUEST)
			fake_guest_event(c, FE_HLT);
	finishing = false;
}

/* An NMI to a CPU not in a guest (in the control domain, or in hvmetal): taken at once. */
static void nmi_now(unsigned cpu)
{
	struct percpu *t = &hv.cpus[cpu];

	if (kick_nmi_is_cds(t))
		percpu_set_pending(t, PENDING_NMI);
}

void fake_nmi(unsigned cpu)
{
	if (fake_cpus[cpu].mode == FC_GUEST)
		fake_cpus[cpu].nmi = 1;
	else
		nmi_now(cpu);
}

static void check_walked_tables(const char *when);

/* A waiting CPU gives the others their turn: guests with an NMI take it. */
void cpu_pause(void)
{
	if (in_fiber >= 0)
		return;
	CHECKF(fake_cpus[current].locks == 0, "cpu %u waits for another CPU holding %u locks",
	       current, fake_cpus[current].locks);
	check_walked_tables("a CPU waits");
	for (unsigned c = 0; c < fake_ncpus; c++)
		if (fake_cpus[c].mode == FC_GUEST && fake_cpus[c].nmi)
			fake_guest_event(c, FE_NMI);
}

/* ---- this CPU, locks ---- */

unsigned fake_current(void)
{
	return current;
}

void fake_set_current(unsigned cpu)
{
	CHECK(in_fiber < 0 && cpu < fake_ncpus);
	current = cpu;
}

struct percpu *this_cpu(void)
{
	return &hv.cpus[current];
}

void spin_lock(struct spinlock *l)
{
	CHECKF(!l->locked, "spin lock %p found held: leaked, or held while waiting", (void *)l);
	l->locked = 1;
	fake_cpus[current].locks++;
}

void spin_unlock(struct spinlock *l)
{
	CHECKF(l->locked && fake_cpus[current].locks, "unlock of a free spin lock %p", (void *)l);
	l->locked = 0;
	fake_cpus[current].locks--;
}

/* ---- MSRs, CPUID, registers ---- */

#define MSR_PERF_GLOBAL_STATUS	0x38e
#define MSR_ARCH_CAPABILITIES	0x10a

static const uint32_t msr_number[FM_NMSR] = {
	[FM_STAR] = 0xc0000081, [FM_LSTAR] = 0xc0000082, [FM_CSTAR] = 0xc0000083,
	[FM_SFMASK] = 0xc0000084, [FM_KGSBASE] = 0xc0000102, [FM_TSC_AUX] = 0xc0000103,
	[FM_BNDCFGS] = 0xd90, [FM_XFD] = MSR_IA32_XFD,
};

/* The VMX capability MSRs of the model (a Tiger Lake's, less what the model lacks). */
static uint64_t vmx_msr(uint32_t msr)
{
	uint32_t proc2 = CPU_BASED2_EPT | CPU_BASED2_DESC_TABLE |
			 CPU_BASED2_WBINVD | CPU_BASED2_UNRESTRICTED |
			 CPU_BASED2_PAUSE_LOOP | CPU_BASED2_RDRAND |
			 CPU_BASED2_INVPCID | CPU_BASED2_VMFUNC | CPU_BASED2_RDSEED | CPU_BASED2_PML |
			 CPU_BASED2_EPT_VE | CPU_BASED2_XSAVES_XRSTORS | CPU_BASED2_TSC_SCALING;

	proc2 |= (fake_model.shadow ? CPU_BASED2_VMCS_SHADOW : 0) |
		 (fake_model.vpid ? CPU_BASED2_VPID : 0) |
		 (fake_model.vapic ? CPU_BASED2_VIRTUAL_APIC : 0) |
		 (fake_model.rdtscp ? CPU_BASED2_RDTSCP : 0) |
		 (fake_model.apicv ? APICV_BITS : 0);
	switch (msr) {
	case MSR_IA32_FEATURE_CONTROL:
		return FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
	case MSR_IA32_VMX_BASIC:
		return 0x12 | (4096ull << 32) | (6ull << 50) | (1ull << 54) | (1ull << 55);
	case MSR_IA32_VMX_TRUE_PINBASED_CTLS:
		return 0x16 | 0xffull << 32;
	case MSR_IA32_VMX_TRUE_PROCBASED_CTLS:
		return 0x04006172 | 0xfff9fffeull << 32;
	case MSR_IA32_VMX_TRUE_EXIT_CTLS:
		return 0x00036dfb | 0x01ffffffull << 32;
	case MSR_IA32_VMX_TRUE_ENTRY_CTLS:
		return 0x000011fb | 0x0003ffffull << 32;
	case MSR_IA32_VMX_MISC:
		return 5 | (fake_model.hlt ? 1ull << 6 : 0) | (fake_model.vmwrite_any ? 1ull << 29 : 0);
	case MSR_IA32_VMX_CR0_FIXED0:
		return 0x80000021;
	case MSR_IA32_VMX_CR0_FIXED1:
		return 0xffffffff;
	case MSR_IA32_VMX_CR4_FIXED0:
		return 0x2000;
	case MSR_IA32_VMX_CR4_FIXED1:
		return 0x3767ff | (1ull << 19);
	case MSR_IA32_VMX_VMCS_ENUM:
		return 0x2e;
	case MSR_IA32_VMX_PROCBASED_CTLS2:
		return (uint64_t)proc2 << 32;
	case MSR_IA32_VMX_EPT_VPID_CAP:
		return EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_INVEPT | EPT_CAP_INVEPT_ALL |
		       (fake_model.ept_2m ? EPT_CAP_2M : 0) |
		       (fake_model.ept_2m && fake_model.ept_1g ? EPT_CAP_1G : 0) |
		       (fake_model.invept_single ? EPT_CAP_INVEPT_SINGLE : 0) |
		       (fake_model.vpid ? VPID_CAP_INVVPID | VPID_CAP_SINGLE | (1ull << 42) : 0);
	}
	CHECKF(0, "RDMSR %#x: no such MSR (#GP in VMX root)", msr);
	return 0;
}

/* Which of enum fake_msr the model has. */
static bool has_msr(unsigned i)
{
	return (i != FM_TSC_AUX || fake_model.rdtscp) && (i != FM_BNDCFGS || fake_model.mpx) &&
	       (i != FM_XFD || fake_model.xfd);
}

static int msr_index(uint32_t msr)
{
	for (unsigned i = 0; i < FM_NMSR; i++)
		if (msr_number[i] == msr)
			return has_msr(i) ? (int)i : -2;
	return -1;
}

static bool canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

/* Would WRMSR of val to enum fake_msr i #GP? */
static bool msr_value_ok(unsigned i, uint64_t val)
{
	switch (i) {
	case FM_LSTAR: case FM_CSTAR: case FM_KGSBASE:
		return canonical(val);
	case FM_SFMASK: case FM_TSC_AUX:
		return !(val >> 32);
	case FM_BNDCFGS:
		return !(val & 0xffc) && canonical(val & ~0xfffull);
	case FM_XFD:
		return !(val & ~(1ull << 18));	/* AMX tile data is the only one it can arm */
	default:
		return true;
	}
}

uint64_t rdmsr(uint32_t msr)
{
	int i = msr_index(msr);

	if (i >= 0)
		return fake_cpus[current].r.msr[i];
	CHECKF(i == -1, "RDMSR %#x the model lacks (#GP in VMX root)", msr);
	if (msr == MSR_IA32_APIC_BASE)
		return 0xfee00000 | APIC_BASE_ENABLE | APIC_BASE_X2APIC | (current == 0 ? 1u << 8 : 0);
	if (msr == MSR_PERF_GLOBAL_STATUS)
		return 0;
	if (msr == MSR_ARCH_CAPABILITIES && fake_model.arch_cap)
		return 0x2d;
	return vmx_msr(msr);
}

void wrmsr(uint32_t msr, uint64_t v)
{
	int i = msr_index(msr);

	if (msr == MSR_X2APIC_ICR) {
		uint32_t dest = (uint32_t)(v >> 32);

		CHECKF((v & 0xfffff) == (4u << 8) && dest < fake_ncpus && dest != current,
		       "ICR write %#lx: hvmetal sends only NMIs to other CPUs", v);
		fake_nmi(dest);
		return;
	}
	CHECKF(i >= 0, "WRMSR %#x: not an MSR hvmetal may write here (#GP or worse)", msr);
	CHECKF(msr_value_ok((unsigned)i, v), "WRMSR %#x = %#lx: #GP in VMX root", msr, v);
	fake_cpus[current].r.msr[i] = v;
}

static uint64_t xcr0_supported(void)
{
	static const uint64_t xs[4] = { 0x7, 0x1f, 0xe7, 0x600e7 };

	return xs[fake_model.xsave & 3] & (fake_model.mpx ? ~0ull : ~0x18ull);
}

uint32_t fake_xsave_size(void);
uint32_t fake_xsave_size(void)
{
	static const uint32_t size[4] = { 832, 1088, 2688, 11008 };

	return fake_model.xsave == 1 && !fake_model.mpx ? 832 : size[fake_model.xsave & 3];
}

struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r = { 0, 0, 0, 0 };

	switch (leaf) {
	case 0:
		r.eax = 0x16;
		break;
	case 1:
		r.ecx = (1u << 5) | (1u << 26) | (1u << 27);	/* VMX, XSAVE, OSXSAVE */
		r.ebx = current << 24;
		break;
	case 7:
		if (subleaf == 0) {
			r.ebx = fake_model.mpx ? 1u << 14 : 0;
			r.edx = fake_model.arch_cap ? 1u << 29 : 0;
		}
		break;
	case 0xa:
		r.eax = 2;	/* architectural PMU version 2 */
		break;
	case 0xd:
		if (subleaf == 0) {
			r.eax = (uint32_t)xcr0_supported();
			r.edx = (uint32_t)(xcr0_supported() >> 32);
			r.ecx = r.ebx = fake_xsave_size();
		} else if (subleaf == 1) {
			r.eax = fake_model.xfd ? 1u << 4 : 0;
		}
		break;
	case 0x15:
		if (fake_model.tsc_known) {
			r.eax = 2;
			r.ebx = 208;
			r.ecx = 19200000;
		}
		break;
	case 0x80000000:
		r.eax = 0x80000008;
		break;
	case 0x80000001:
		r.edx = fake_model.rdtscp ? 1u << 27 : 0;
		break;
	case 0x80000008:
		r.eax = 48;
		break;
	}
	return r;
}

uint64_t read_cr2(void)
{
	return fake_cpus[current].r.cr2;
}

void write_cr2(uint64_t v)
{
	fake_cpus[current].r.cr2 = v;
}

uint64_t read_dr(unsigned n)
{
	CHECK(n < 4 || n == 6);
	return n == 6 ? fake_cpus[current].r.dr6 : fake_cpus[current].r.dr[n];
}

void write_dr(unsigned n, uint64_t v)
{
	CHECK(n < 4 || n == 6);
	if (n == 6) {
		CHECKF(!(v >> 32), "MOV to DR6 of %#lx: #GP in VMX root", v);
		fake_cpus[current].r.dr6 = v;
	} else {
		fake_cpus[current].r.dr[n] = v;
	}
}

uint64_t rdtsc(void)
{
	return fake_tsc += 100;
}

uint8_t inb(uint16_t port)
{
	CHECKF(port == 0x61, "IN from port %#x", port);
	return 0;
}

void outb(uint16_t port, uint8_t v)
{
	CHECKF(0, "OUT %#x to port %#x", v, port);
}

void cpu_unblock_nmi(uint16_t cs, uint16_t ss)
{
	CHECK(cs == HOST_SEL_CS && ss == HOST_SEL_DS);
}

/* SDM vol. 2, XSETBV. */
void xcr0_write(uint64_t val)
{
	uint64_t s = xcr0_supported();

	CHECKF((val & 1) && !(val & ~s) && (!(val & 4) || (val & 2)) &&
	       (!(val & 0xe0) || ((val & 0xe0) == 0xe0 && (val & 4))) &&
	       ((val & 0x18) == 0 || (val & 0x18) == 0x18) &&
	       ((val & 0x60000) == 0 || (val & 0x60000) == 0x60000),
	       "XSETBV %#lx: #GP in VMX root", val);
	fake_cpus[current].r.xcr0 = val;
}

uint64_t xcr0_read(void)
{
	return fake_cpus[current].r.xcr0;
}

/* Where an XSAVE area must be: pool pages in use, all of it. */
static void check_area(const void *area)
{
	uint64_t a = (uintptr_t)area;

	for (uint64_t p = a & ~(FAKE_PG - 1); p < a + fake_xsave_size(); p += FAKE_PG)
		CHECKF(fake_pool_page_used(p), "XSAVE area %#lx: page %#lx not in use", a, p);
	CHECKF(!(a & 63), "XSAVE area %#lx not 64-byte aligned (#GP)", a);
	CHECKF(!fake_model.xfd || fake_cpus[current].r.msr[FM_XFD] == 0,
	       "XSAVE/XRSTOR with IA32_XFD armed (#NM in VMX root)");
	CHECKF(fake_cpus[current].r.xcr0 == xcr0_supported(),
	       "XSAVE/XRSTOR under XCR0 %#lx: not every component moves", fake_cpus[current].r.xcr0);
}

void xstate_save(void *area)
{
	check_area(area);
	memcpy(area, fake_cpus[current].r.ext, fake_xsave_size());
}

static uint32_t mxcsr_mask;	/* this host's, as vcpu_setup reads it */

/* Standard-form XRSTOR: MXCSR within the mask, XSTATE_BV within XCR0, the header's rest 0. */
void xstate_restore(const void *area)
{
	const uint8_t *a = area;
	uint32_t mxcsr;
	uint64_t bv, rest = 0;

	check_area(area);
	memcpy(&mxcsr, a + 24, 4);
	memcpy(&bv, a + 512, 8);
	for (unsigned off = 520; off < 576; off += 8) {
		uint64_t w;

		memcpy(&w, a + off, 8);
		rest |= w;
	}
	CHECKF(!(mxcsr & ~mxcsr_mask) && !(bv & ~fake_cpus[current].r.xcr0) && !rest,
	       "XRSTOR of MXCSR %#x XSTATE_BV %#lx: #GP in VMX root", mxcsr, bv);
	memcpy(fake_cpus[current].r.ext, area, fake_xsave_size());
}

/* ---- the VMCS ---- */

#define VMCS_LAUNCHED	8	/* byte of the region: launch state, 1 = launched */
#define VMCS_DATA	16	/* field values from here, 8 bytes each by table row */
#define SHADOW_BIT	(1u << 31)

static uint16_t slot_of[0x8000];	/* encoding (low bit clear) -> table row + 1 */
static const struct vmcs_field *fields;

static struct { uint64_t pa; unsigned cpu; } active[1024];
static unsigned nactive;

static int active_on(uint64_t pa)
{
	for (unsigned i = 0; i < nactive; i++)
		if (active[i].pa == pa)
			return (int)active[i].cpu;
	return -1;
}

static void set_inactive(uint64_t pa)
{
	for (unsigned i = 0; i < nactive; i++)
		if (active[i].pa == pa) {
			active[i] = active[--nactive];
			return;
		}
}

void fake_check_active_vmcs(void)
{
	for (unsigned i = 0; i < nactive; i++)
		CHECKF(fake_pool_page_used(active[i].pa),
		       "the VMCS at %#lx, active on cpu %u, went back to the pool", active[i].pa,
		       active[i].cpu);
}

/* The field's slot in its region, with its width mask and the shift of a _HIGH access. */
static uint64_t *field_slot(uint64_t pa, uint32_t field, uint64_t *mask, unsigned *shift)
{
	unsigned s = field < 0x8000 ? slot_of[field & ~1u] : 0;
	const struct vmcs_field *f = s ? &fields[s - 1] : NULL;

	if (!f || ((field & 1) && f->width != VMCS_WIDTH_64))
		return NULL;
	*shift = field & 1 ? 32 : 0;
	*mask = field & 1 ? 0xffffffffull : f->width == VMCS_WIDTH_16 ? 0xffff :
		f->width == VMCS_WIDTH_32 ? 0xffffffffull : ~0ull;
	return (uint64_t *)(uintptr_t)(pa + VMCS_DATA + 8 * (s - 1));
}

uint64_t fake_vmcs_get(uint64_t pa, uint32_t field)
{
	uint64_t mask;
	unsigned shift;
	uint64_t *p = field_slot(pa, field, &mask, &shift);

	CHECK(p);
	return (*p >> shift) & mask;
}

void fake_vmcs_set(uint64_t pa, uint32_t field, uint64_t val)
{
	uint64_t mask;
	unsigned shift;
	uint64_t *p = field_slot(pa, field, &mask, &shift);

	CHECK(p);
	*p = (*p & ~(mask << shift)) | ((val & mask) << shift);
}

static bool vmcs_region_ok(uint64_t pa)
{
	return fake_pool_page_used(pa);
}

enum vmx_result vmx_on(uint64_t pa)
{
	(void)pa;
	CHECKF(0, "VMXON after launch");
	return VMX_FAIL_INVALID;
}

enum vmx_result vmx_clear(uint64_t pa)
{
	int on = active_on(pa);

	CHECKF(vmcs_region_ok(pa), "VMCLEAR of %#lx: not a VMCS region in use", pa);
	CHECKF(on < 0 || on == (int)current, "VMCLEAR of %#lx, active on cpu %d", pa, on);
	set_inactive(pa);
	((uint8_t *)(uintptr_t)pa)[VMCS_LAUNCHED] = 0;
	if (fake_cpus[current].vmcs == pa)
		fake_cpus[current].vmcs = FAKE_NO_VMCS;
	return VMX_OK;
}

enum vmx_result vmx_ptrld(uint64_t pa)
{
	uint32_t rev;
	int on = active_on(pa);

	CHECKF(vmcs_region_ok(pa), "VMPTRLD of %#lx: not a VMCS region in use", pa);
	CHECKF(on < 0 || on == (int)current, "VMPTRLD of %#lx, active on cpu %d", pa, on);
	memcpy(&rev, (void *)(uintptr_t)pa, 4);
	if ((rev & ~SHADOW_BIT) != vmx_caps.revision || ((rev & SHADOW_BIT) && !fake_model.shadow))
		return VMX_FAIL_VALID;
	if (on < 0) {
		CHECK(nactive < ARRAY_SIZE(active));
		active[nactive].pa = pa;
		active[nactive++].cpu = current;
	}
	fake_cpus[current].vmcs = pa;
	return VMX_OK;
}

static enum vmx_result fail_valid(unsigned err)
{
	uint64_t mask;
	unsigned shift;
	uint64_t *p = field_slot(fake_cpus[current].vmcs, VMCS_INSN_ERROR, &mask, &shift);

	*p = err;
	return VMX_FAIL_VALID;
}

enum vmx_result vmx_vmread(uint64_t field, uint64_t *val)
{
	uint64_t pa = fake_cpus[current].vmcs, mask;
	unsigned shift;
	uint64_t *p;

	if (pa == FAKE_NO_VMCS)
		return VMX_FAIL_INVALID;
	p = field >> 32 ? NULL : field_slot(pa, (uint32_t)field, &mask, &shift);
	if (!p)
		return fail_valid(12);
	*val = (*p >> shift) & mask;
	return VMX_OK;
}

enum vmx_result vmx_vmwrite(uint64_t field, uint64_t val)
{
	uint64_t pa = fake_cpus[current].vmcs, mask;
	unsigned shift;
	uint64_t *p;

	if (pa == FAKE_NO_VMCS)
		return VMX_FAIL_INVALID;
	p = field >> 32 ? NULL : field_slot(pa, (uint32_t)field, &mask, &shift);
	if (!p)
		return fail_valid(12);
	if (((field >> 10) & 3) == VMCS_TYPE_EXIT_INFO && !fake_model.vmwrite_any)
		return fail_valid(13);
	*p = (*p & ~(mask << shift)) | ((val & mask) << shift);
	return VMX_OK;
}

uint64_t vmcs_read(uint32_t field)
{
	uint64_t v;

	if (vmx_vmread(field, &v) != VMX_OK)
		vmcs_read_failed(field);
	return v;
}

void vmcs_write(uint32_t field, uint64_t val)
{
	unsigned bits = vmcs_field_bits(field);

	if (bits < 64 && (val >> bits))
		vmcs_write_failed(field, val);
	if (vmx_vmwrite(field, val) != VMX_OK)
		vmcs_write_failed(field, val);
}

/* ---- EPT: walks and what each CPU caches ---- */

static NO_COVERAGE void add_run(struct fake_ept_view *v, uint64_t gpa, uint64_t size, uint64_t hpa,
				unsigned perms)
{
	struct fake_run *last = v->nruns ? &v->runs[v->nruns - 1] : NULL;

	if (last && last->end == gpa && last->hpa + (last->end - last->gpa) == hpa &&
	    last->perms == perms) {
		last->end += size;
		return;
	}
	if (v->nruns == FAKE_RUNS) {
		v->overflow = true;
		return;
	}
	v->runs[v->nruns++] = (struct fake_run){ gpa, gpa + size, hpa, perms };
}

static NO_COVERAGE void view_table(struct fake_ept_view *v, uint64_t t, unsigned level, uint64_t base,
				   uint64_t apic)
{
	const uint64_t *e = (const uint64_t *)(uintptr_t)t;
	uint64_t span = 1ull << (12 + 9 * level);

	CHECKF(fake_pool_page_used(t), "EPT table %#lx (level %u, from %#lx) is no pool page in use",
	       t, level, base);
	if (v->ntables < FAKE_TABLES)
		v->tables[v->ntables++] = t;
	else
		v->overflow = true;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t x = e[i], va = base + i * span, hpa = x & EPT_ADDR_MASK;
		unsigned perms = x & (EPT_PERM_R | EPT_PERM_W | EPT_PERM_X | EPT_PERM_UX);

		if (!perms)
			continue;
		if (level == 3 || (level && !(x & EPT_LARGE))) {
			view_table(v, hpa, level - 1, va, apic);
			continue;
		}
		CHECKF(level == 0 || (level == 1 && fake_model.ept_2m) || (level == 2 && fake_model.ept_1g),
		       "EPT leaf of level %u at %#lx: the CPU has no such pages", level, va);
		CHECKF(!(hpa & (span - 1)) && (x & (7ull << 3)) == EPT_MT_WB &&
		       (perms & (EPT_PERM_R | EPT_PERM_W)) != EPT_PERM_W,
		       "EPT leaf %#lx at %#lx: misconfigured", x, va);
		CHECKF(fake_cd_ram(hpa, span) || (apic && level == 0 && hpa == apic),
		       "EPT leaf at %#lx maps %#lx (+%#lx): not control-domain RAM", va, hpa, span);
		add_run(v, va, span, hpa, perms);
	}
}

void fake_ept_view(uint64_t pml4, uint64_t apic_page, struct fake_ept_view *v)
{
	v->nruns = v->ntables = 0;
	v->overflow = false;
	view_table(v, pml4, 3, 0, apic_page);
}

/* Does view still translate all of r as r does, with at least its permissions? */
static NO_COVERAGE bool still_true(const struct fake_ept_view *v, const struct fake_run *r)
{
	uint64_t at = r->gpa;

	for (unsigned i = 0; i < v->nruns && at < r->end; i++) {
		const struct fake_run *x = &v->runs[i];

		if (x->end <= at)
			continue;
		if (x->gpa > at || x->hpa - x->gpa != r->hpa - r->gpa || (x->perms & r->perms) != r->perms)
			return false;
		at = x->end;
	}
	return at >= r->end;
}

static NO_COVERAGE bool has_table(const struct fake_ept_view *v, uint64_t t)
{
	for (unsigned i = 0; i < v->ntables; i++)
		if (v->tables[i] == t)
			return true;
	return false;
}

#define CACHES		4
#define CACHE_RUNS	256
#define CACHE_TABLES	64

struct cache {
	uint64_t eptp;		/* 0: unused */
	unsigned nruns, ntables;
	struct fake_run runs[CACHE_RUNS];
	uint64_t tables[CACHE_TABLES];
};

static struct cache caches[FAKE_CPUS][CACHES];

static struct cache *cache_of(unsigned cpu, uint64_t eptp, bool make)
{
	struct cache *c = caches[cpu], *free = NULL;

	for (unsigned i = 0; i < CACHES; i++) {
		if (c[i].eptp == eptp)
			return &c[i];
		if (!c[i].eptp && !free)
			free = &c[i];
	}
	if (!make)
		return NULL;
	if (!free) {	/* a CPU may drop what it cached whenever it likes */
		free = &c[fake_tsc / 100 % CACHES];
	}
	free->eptp = eptp;
	free->nruns = free->ntables = 0;
	return free;
}

/* What cpu cached under eptp is all still in view: else it was not invalidated. */
static NO_COVERAGE void check_cache(unsigned cpu, uint64_t eptp, const struct fake_ept_view *v,
				    const char *when)
{
	struct cache *c = cache_of(cpu, eptp, false);

	if (!c)
		return;
	for (unsigned i = 0; i < c->nruns; i++)
		CHECKF(still_true(v, &c->runs[i]),
		       "%s: cpu %u still caches gpa %#lx-%#lx -> %#lx perms %x under EPTP %#lx, no longer so",
		       when, cpu, c->runs[i].gpa, c->runs[i].end, c->runs[i].hpa, c->runs[i].perms, eptp);
	for (unsigned i = 0; i < c->ntables; i++)
		CHECKF(has_table(v, c->tables[i]),
		       "%s: cpu %u still caches EPT table %#lx under EPTP %#lx, no longer in the tree",
		       when, cpu, c->tables[i], eptp);
}

/*
 * A guest that runs may walk any EPT table its CPU cached, until the CPU
 * invalidates: none of them may be back in the pool meanwhile (issue 9, defect 7).
 */
static NO_COVERAGE void check_walked_tables(const char *when)
{
	for (unsigned c = 0; c < fake_ncpus; c++) {
		const struct cache *k;

		if (fake_cpus[c].mode != FC_GUEST)
			continue;
		k = cache_of(c, fake_vmcs_get(fiber_guest[c]->vmcs_pa, VMCS_EPTP), false);
		for (unsigned i = 0; k && i < k->ntables; i++)
			CHECKF(fake_pool_page_used(k->tables[i]),
			       "%s: cpu %u's guest may still walk EPT table %#lx, back in the pool",
			       when, c, k->tables[i]);
	}
}

static NO_COVERAGE void fill_cache(unsigned cpu, uint64_t eptp, const struct fake_ept_view *v)
{
	struct cache *c = cache_of(cpu, eptp, true);

	for (unsigned i = 0; i < v->nruns && c->nruns < CACHE_RUNS; i++) {
		unsigned j = 0;

		while (j < c->nruns && (c->runs[j].gpa != v->runs[i].gpa || c->runs[j].end != v->runs[i].end ||
					c->runs[j].hpa != v->runs[i].hpa || c->runs[j].perms != v->runs[i].perms))
			j++;
		if (j == c->nruns)
			c->runs[c->nruns++] = v->runs[i];
	}
	for (unsigned i = 0; i < v->ntables && c->ntables < CACHE_TABLES; i++) {
		unsigned j = 0;

		while (j < c->ntables && c->tables[j] != v->tables[i])
			j++;
		if (j == c->ntables)
			c->tables[c->ntables++] = v->tables[i];
	}
}

void vmx_invept(uint64_t type, uint64_t eptp)
{
	CHECKF(type == INVEPT_ALL || (type == INVEPT_SINGLE && fake_model.invept_single),
	       "INVEPT type %lu the CPU lacks", type);
	if (type == INVEPT_ALL) {
		for (unsigned i = 0; i < CACHES; i++)
			caches[current][i].eptp = 0;
		return;
	}
	CHECKF((eptp & 0xfff) == EPTP_WB_WALK4 && fake_pool_page_used(eptp & EPT_ADDR_MASK),
	       "INVEPT of EPTP %#lx: invalid (VMfailValid, nothing flushed)", eptp);
	for (unsigned i = 0; i < CACHES; i++)
		if (caches[current][i].eptp == eptp)
			caches[current][i].eptp = 0;
}

void vmx_invvpid_single(uint16_t vpid)
{
	CHECKF(fake_model.vpid && vpid, "INVVPID of VPID %u: the CPU lacks it, or VPID 0", vpid);
}

static struct fake_ept_view entry_view;
void vcpu_exit_entry(void);

/* The vCPU running on cpu: the guest whose EPT (and caches) fake_observe looks at. */
void fake_observe(void)
{
	for (unsigned c = 0; c < fake_ncpus; c++) {
		struct vcpu *v = fiber_guest[c];
		uint64_t eptp;

		if (fake_cpus[c].mode != FC_GUEST)
			continue;
		eptp = fake_vmcs_get(v->vmcs_pa, VMCS_EPTP);
		fake_ept_view(eptp & EPT_ADDR_MASK, (uintptr_t)v->vm->apic_access_page, &entry_view);
		check_cache(c, eptp, &entry_view, "a call returned while a guest runs on");
		fill_cache(c, eptp, &entry_view);
	}
}

/* ---- VM entry ---- */

static struct vcpu *vcpu_of_vmcs(uint64_t pa)
{
	for (unsigned i = 0; i < VM_MAX; i++)
		for (unsigned j = 0; vms[i].handle && j < VM_VCPUS_MAX; j++)
			if (vms[i].vcpus[j] && vms[i].vcpus[j]->vmcs_pa == pa)
				return vms[i].vcpus[j];
	return NULL;
}

static bool ctl_ok(uint64_t val, struct vmx_ctl c)
{
	return (val & c.must1) == c.must1 && !(val & ~(uint64_t)c.may1);
}

/* Secondary controls that need a structure hvmetal owns, or state it does not switch. */
#define PROC2_HVMETALS	(CPU_BASED2_VMFUNC | CPU_BASED2_PML | \
			 CPU_BASED2_EPT_VE | CPU_BASED2_XSAVES_XRSTORS | (1u << 19) | (1u << 21) | \
			 (1u << 22) | (1u << 23) | (1u << 24) | (1u << 27))

static NO_COVERAGE void check_host_and_controls(unsigned c, uint64_t pa)
{
	struct percpu *cpu = &hv.cpus[c];
	uint64_t pin = fake_vmcs_get(pa, VMCS_PIN_CTLS), proc = fake_vmcs_get(pa, VMCS_PROC_CTLS);
	uint64_t proc2 = fake_vmcs_get(pa, VMCS_PROC2_CTLS), entry = fake_vmcs_get(pa, VMCS_ENTRY_CTLS);
	uint64_t exit = fake_vmcs_get(pa, VMCS_EXIT_CTLS);

	CHECKF(fake_vmcs_get(pa, VMCS_HOST_GS_BASE) == (uintptr_t)cpu &&
	       fake_vmcs_get(pa, VMCS_HOST_TR_BASE) == (uintptr_t)&cpu->tss &&
	       fake_vmcs_get(pa, VMCS_HOST_GDTR_BASE) == (uintptr_t)cpu->gdt,
	       "VM entry on cpu %u with another CPU's host state (GS base %#lx)", c,
	       fake_vmcs_get(pa, VMCS_HOST_GS_BASE));
	CHECK(fake_vmcs_get(pa, VMCS_HOST_CR0) == host_state.cr0 &&
	      fake_vmcs_get(pa, VMCS_HOST_CR3) == host_state.cr3 &&
	      fake_vmcs_get(pa, VMCS_HOST_CR4) == host_state.cr4 &&
	      fake_vmcs_get(pa, VMCS_HOST_EFER) == host_state.efer &&
	      fake_vmcs_get(pa, VMCS_HOST_PAT) == host_state.pat &&
	      fake_vmcs_get(pa, VMCS_HOST_IDTR_BASE) == host_state.idt_base &&
	      fake_vmcs_get(pa, VMCS_HOST_RIP) == (uintptr_t)vcpu_exit_entry &&
	      fake_vmcs_get(pa, VMCS_HOST_CS_SEL) == HOST_SEL_CS &&
	      fake_vmcs_get(pa, VMCS_HOST_TR_SEL) == HOST_SEL_TR);
	CHECKF(ctl_ok(pin, vmx_caps.pin) && ctl_ok(proc, vmx_caps.proc) &&
	       (!(proc & CPU_BASED_SECONDARY_CTLS) || ctl_ok(proc2, vmx_caps.proc2)) &&
	       ctl_ok(entry, vmx_caps.entry) && ctl_ok(exit, vmx_caps.exit),
	       "VM entry with controls the CPU refuses: pin %#lx proc %#lx proc2 %#lx entry %#lx exit %#lx",
	       pin, proc, proc2, entry, exit);
	CHECKF((pin & (PIN_BASED_INTR | PIN_BASED_NMI | PIN_BASED_VIRTUAL_NMI)) ==
	       (PIN_BASED_INTR | PIN_BASED_NMI | PIN_BASED_VIRTUAL_NMI) && !(pin & PIN_BASED_POSTED_INTR),
	       "pin controls %#lx: the control domain's interrupts and NMIs must exit", pin);
	CHECKF((proc & (CPU_BASED_SECONDARY_CTLS | CPU_BASED_MSR_BITMAPS | CPU_BASED_UNCOND_IO |
			CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE | CPU_BASED_RDPMC)) ==
	       (CPU_BASED_SECONDARY_CTLS | CPU_BASED_MSR_BITMAPS | CPU_BASED_UNCOND_IO |
		CPU_BASED_CR8_LOAD | CPU_BASED_CR8_STORE | CPU_BASED_RDPMC) &&
	       !(proc & (CPU_BASED_IO_BITMAPS | (1u << 17))),
	       "processor controls %#lx give the guest the machine", proc);
	/* APIC virtualization: the TPR shadow and its three controls together, never with the APIC-access page. */
	CHECKF((proc & CPU_BASED_TPR_SHADOW) ?
	       (proc2 & APICV_BITS) == APICV_BITS && !(proc2 & CPU_BASED2_VIRTUAL_APIC) :
	       !(proc2 & APICV_BITS),
	       "APIC virtualization half on: controls %#lx, secondary %#lx", proc, proc2);
	CHECKF((proc2 & (CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED)) ==
	       (CPU_BASED2_EPT | CPU_BASED2_UNRESTRICTED) && !(proc2 & PROC2_HVMETALS) &&
	       (!fake_model.vpid || (proc2 & CPU_BASED2_VPID)),
	       "secondary controls %#lx", proc2);
	CHECKF((entry & (VMENTRY_LOAD_DBG_CONTROLS | VMENTRY_LOAD_IA32_PAT | VMENTRY_LOAD_EFER)) ==
	       (VMENTRY_LOAD_DBG_CONTROLS | VMENTRY_LOAD_IA32_PAT | VMENTRY_LOAD_EFER) &&
	       (exit & (VMEXIT_HOST_IA32E | VMEXIT_LOAD_IA32_PAT | VMEXIT_LOAD_EFER | VMEXIT_SAVE_EFER)) ==
	       (VMEXIT_HOST_IA32E | VMEXIT_LOAD_IA32_PAT | VMEXIT_LOAD_EFER | VMEXIT_SAVE_EFER) &&
	       !(exit & VMEXIT_ACK_INTR),
	       "entry %#lx / exit %#lx controls", entry, exit);
	CHECK(fake_vmcs_get(pa, VMCS_EXIT_MSR_STORE_COUNT) == 0 &&
	      fake_vmcs_get(pa, VMCS_EXIT_MSR_LOAD_COUNT) == 0 &&
	      fake_vmcs_get(pa, VMCS_ENTRY_MSR_LOAD_COUNT) == 0);
	CHECK((fake_vmcs_get(pa, VMCS_CR4_MASK) & vmcs_policy.cr4_mask_forced) ==
	      vmcs_policy.cr4_mask_forced);
	CHECKF(fake_vmcs_get(pa, VMCS_GUEST_ACTIVITY) == 0 ||
	       (fake_vmcs_get(pa, VMCS_GUEST_ACTIVITY) == 1 && fake_model.hlt),
	       "guest activity state %lu: no NMI could end it", fake_vmcs_get(pa, VMCS_GUEST_ACTIVITY));
}

/* The x2APIC MSRs the CPU serves from the virtual-APIC page: reads of the registers but the current count; TPR and EOI writes. */
static bool apicv_passes(uint32_t msr, bool write)
{
	if (write)
		return msr == 0x808 || msr == 0x80b;
	return msr == 0x802 || msr == 0x803 || msr == 0x808 || msr == 0x80a || msr == 0x80d || msr == 0x80f ||
	       (msr >= 0x810 && msr <= 0x828) || msr == 0x82f || msr == 0x830 || (msr >= 0x832 && msr <= 0x838) ||
	       msr == 0x83e;
}

/*
 * The MSR bitmap lets through only what hvmetal keeps apart from the control
 * domain, and x2APIC MSRs only while APIC virtualization is on (apicv).
 */
static NO_COVERAGE void check_msr_bitmap(const struct vcpu *v, const uint8_t *bm, bool apicv)
{
	for (unsigned half = 0; half < 4; half++) {
		const uint8_t *b = bm + half * 1024;
		bool write = half >= 2;

		for (unsigned bit = 0; bit < 8192; bit++) {
			uint32_t msr = (half & 1 ? 0xc0000000u : 0) + bit;
			uint64_t word;
			int sw;

			memcpy(&word, b + bit / 64 * 8, 8);
			if (word == ~0ull) {	/* every MSR of these 64 exits */
				bit |= 63;
				continue;
			}
			if (b[bit / 8] & (1u << (bit % 8)))
				continue;
			if (msr >= 0x800 && msr <= 0x8ff) {
				CHECKF(apicv && apicv_passes(msr, write), "x2APIC MSR %#x %s by the CPU%s", msr,
				       write ? "written" : "read", apicv ? "" : " without APIC virtualization");
				continue;
			}
			sw = vcpu_swapped_index(msr);
			if (sw >= 0) {
				CHECKF(!write || (v->msr_native_write & (1u << sw)) || sw == VCPU_MSR_KGSBASE,
				       "the guest writes MSR %#x natively, hvmetal does not read it back", msr);
				continue;
			}
			CHECKF(msr == 0x174 || msr == 0x175 || msr == 0x176 || msr == 0xc0000100 ||
			       msr == 0xc0000101 || (msr == 0x10 && !write),
			       "MSR %#x %s natively: the control domain's own", msr, write ? "written" : "read");
		}
	}
}

static NO_COVERAGE void check_addresses(unsigned c, uint64_t pa, struct vcpu *v)
{
	struct vm *vm = v->vm;
	uint64_t proc2 = fake_vmcs_get(pa, VMCS_PROC2_CTLS), link = fake_vmcs_get(pa, VMCS_LINK_POINTER);
	uint64_t eptp = fake_vmcs_get(pa, VMCS_EPTP), apic = fake_vmcs_get(pa, VMCS_APIC_ACCESS_ADDR);
	bool apicv = fake_vmcs_get(pa, VMCS_PROC_CTLS) & CPU_BASED_TPR_SHADOW;

	(void)c;
	CHECKF(fake_vmcs_get(pa, VMCS_MSR_BITMAP) == (uintptr_t)v->msr_bitmap &&
	       fake_pool_page_used((uintptr_t)v->msr_bitmap), "MSR bitmap %#lx",
	       fake_vmcs_get(pa, VMCS_MSR_BITMAP));
	CHECKF(v->space && v->space->pml4 && vm_space(vm, v->asid) == v->space &&
	       eptp == ((uintptr_t)v->space->pml4 | EPTP_WB_WALK4) && v->eptp == eptp,
	       "EPTP %#lx is not the vCPU's live space %u", eptp, v->asid);
	CHECKF(link == ~0ull || ((proc2 & CPU_BASED2_VMCS_SHADOW) && link == v->shadow_pa &&
				 fake_pool_page_used(link) && active_on(link) < 0),
	       "VMCS link pointer %#lx", link);
	if (proc2 & CPU_BASED2_VMCS_SHADOW)
		CHECKF(v->shadow_pa && fake_vmcs_get(pa, VMCS_VMREAD_BITMAP) == (uintptr_t)v->vmread_bitmap &&
		       fake_vmcs_get(pa, VMCS_VMWRITE_BITMAP) == (uintptr_t)v->vmwrite_bitmap &&
		       fake_pool_page_used((uintptr_t)v->vmread_bitmap) &&
		       fake_pool_page_used((uintptr_t)v->vmwrite_bitmap), "VMREAD/VMWRITE bitmaps");
	if (proc2 & CPU_BASED2_VIRTUAL_APIC)
		CHECKF(apic == (uintptr_t)vm->apic_access_page || !in_region(apic),
		       "APIC-access page %#lx is hvmetal's", apic);
	if (apicv)
		CHECKF(vm->apic && v->apicv_page && vlapic_x2apic(&v->lapic) &&
		       fake_vmcs_get(pa, VMCS_CTRL_VIRTUAL_APIC) == (uintptr_t)v->apicv_page &&
		       fake_pool_page_used((uintptr_t)v->apicv_page),
		       "APIC virtualization of a vCPU not in x2APIC mode, or a virtual-APIC page %#lx not its own",
		       fake_vmcs_get(pa, VMCS_CTRL_VIRTUAL_APIC));
	check_msr_bitmap(v, v->msr_bitmap, apicv);
}

/* The CPU holds what the guest should see. */
static NO_COVERAGE void check_guest_regs(struct fake_cpu *fc, const struct vcpu *v)
{
	const struct fake_regs *want = fc->entered ? &fc->at_exit : NULL;

	CHECKF(fc->r.cr2 == (want ? want->cr2 : v->cr2) && fc->r.dr6 == (want ? want->dr6 : v->dr6) &&
	       !memcmp(fc->r.dr, want ? want->dr : v->dr, sizeof(fc->r.dr)),
	       "VM entry with CR2/DR0-3/DR6 not the guest's");
	CHECKF(fc->r.xcr0 == v->xcr0, "VM entry with XCR0 %#lx, the guest's is %#lx", fc->r.xcr0, v->xcr0);
	for (unsigned i = 0; i < VCPU_MSR_SWAPPED; i++)
		if (vcpu_swapped_mask & (1u << i))
			CHECKF(fc->r.msr[i] == (want ? want->msr[i] : v->msr[i]),
			       "VM entry with MSR %#x = %#lx, the guest's is %#lx", msr_number[i],
			       fc->r.msr[i], want ? want->msr[i] : v->msr[i]);
	CHECKF(!fake_model.xfd || fc->r.msr[FM_XFD] == 0, "a guest runs with the control domain's XFD");
	CHECKF(!memcmp(fc->r.ext, want ? want->ext : v->xsave, fake_xsave_size()),
	       "VM entry with extended state not the guest's");
}

static void check_saved_guest(struct fake_cpu *fc, const struct vcpu *v)
{
	const struct fake_regs *g = &fc->at_exit;

	CHECKF(v->cr2 == g->cr2 && v->dr6 == g->dr6 && !memcmp(v->dr, g->dr, sizeof(v->dr)),
	       "the guest's CR2/DRs were not saved");
	for (unsigned i = 0; i < VCPU_MSR_SWAPPED; i++)
		if (vcpu_swapped_mask & (1u << i))
			CHECKF(v->msr[i] == g->msr[i], "the guest's MSR %#x = %#lx was saved as %#lx",
			       msr_number[i], g->msr[i], v->msr[i]);
	CHECKF(!memcmp(v->xsave, g->ext, fake_xsave_size()), "the guest's extended state was not saved");
}

/* What the guest does to its own registers while it runs (struct fake_cpu.effects). */
static NO_COVERAGE void guest_runs(struct fake_cpu *fc, struct vcpu *v)
{
	uint64_t n = ++fc->counter, pa = fc->vmcs;
	const uint8_t *bm = v->msr_bitmap + 2048;

	if (fc->effects & FX_SWAPGS)
		fc->r.msr[FM_KGSBASE] = 0xffff800000000000ull | n << 12;
	if (fc->effects & FX_MSRS) {
		for (unsigned i = 0; i < VCPU_MSR_SWAPPED; i++) {
			uint32_t msr = msr_number[i];
			unsigned bit = (msr >= 0xc0000000u ? 1024 * 8 : 0) + (msr & 0x1fff);

			if (!(vcpu_swapped_mask & (1u << i)) || (bm[bit / 8] & (1u << (bit % 8))))
				continue;
			fc->r.msr[i] = i == FM_TSC_AUX || i == FM_SFMASK ? n : i == FM_BNDCFGS ?
				       (n << 12 | 1) : 0x7fff00000000ull + n;
		}
	}
	if (fc->effects & FX_CR2)
		fc->r.cr2 = n << 12 | 0x123;
	if ((fc->effects & FX_DRS) && !(fake_vmcs_get(pa, VMCS_PROC_CTLS) & CPU_BASED_MOV_DR)) {
		fc->r.dr[n & 3] = 0x400000 + n;
		fc->r.dr6 = 0xffff0ff0 | (n & 0xf);
	}
	if (fc->effects & FX_EXT)
		fc->r.ext[160 + n % 256] ^= 0x5a;
	if (fc->effects & FX_GPRS) {
		v->gpr.rbx += n;
		v->gpr.r15 ^= n << 7;
	}
	if (fc->effects & FX_RIP)
		fake_vmcs_set(pa, VMCS_GUEST_RIP, fake_vmcs_get(pa, VMCS_GUEST_RIP) + 2);
}

static uint8_t next_event(struct fake_cpu *fc)
{
	uint8_t ev;

	/*
	 * Out of script, a guest halts; if it halts in hvmetal (HLT idling) it
	 * stays there until the control domain's next interrupt, which ends the run.
	 */
	if (finishing)
		return FE_IRQ;
	if (!fc->nscript)
		return fc->drained++ ? FE_IRQ : FE_HLT;
	ev = fc->script[0];
	memmove(fc->script, fc->script + 1, --fc->nscript);
	return ev;
}

/* Four bytes of the CPU's APIC-exit details. */
static uint32_t param32(struct fake_cpu *fc)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)fc->param[fc->pidx++ % sizeof(fc->param)] << (8 * i);
	return v;
}

static const uint32_t apic_offsets[] = {
	0x20, 0x30, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x100, 0x170, 0x180, 0x200,
	0x280, 0x2f0, 0x300, 0x310, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x390,
	0x3e0, 0x3f0,
};

/* The MSR an APIC RDMSR/WRMSR exit names. */
static uint32_t apic_msr(uint32_t p)
{
	switch (p & 7) {
	case 0:
		return 0x1b;
	case 1:
		return 0x6e0;
	case 2:
	case 3:
		return 0x800 + (apic_offsets[(p >> 8) % ARRAY_SIZE(apic_offsets)] >> 4);
	case 4:
		return 0x800 + ((p >> 8) & 0xff);
	case 5:
		return 0x83f;
	case 6:
		return 0x80b;
	default:
		return p >> 8 & 1 ? 0x8ff : 0x10;
	}
}

/* EDX:EAX of a WRMSR: shapes of what the guest might write there, or anything. */
static uint64_t apic_msr_value(uint32_t msr, uint32_t p, uint32_t q)
{
	switch (p >> 29) {
	case 0:
		return (uint64_t)q << 32 | p;
	case 1:
		return q;
	default:
		break;
	}
	switch (msr) {
	case 0x1b:
		return (p & 1 ? 0xfee00000ull : (uint64_t)(q & 0xffffff) << 12) | (q & 0xd00) |
		       (p & 2 ? 1ull << 52 : 0);
	case 0x6e0:
		switch (p & 3) {
		case 0: return fake_tsc + (q & 0xfffff);
		case 1: return q & 0xff;
		case 2: return ~0ull - (q & 0xffff);
		default: return 0xfffffffffffff000ull - (q & 0xffff);
		}
	case 0x830:	/* ICR: vector, mode, level, trigger, shorthand; destination */
		return (q & 0xcc7ff) | (uint64_t)(p & 0x100 ? 0xffffffffu : (p >> 9) & 3) << 32;
	case 0x832: case 0x835: case 0x836: case 0x837: case 0x833: case 0x834:
		return (q & 0x7ff) | (q & 0x78000);
	case 0x838:
		return q & 0xfff;
	default:
		return q & 0x1ff;
	}
}

/* ---- APIC virtualization as the CPU does it (SDM ch. 30), on the vCPU's virtual-APIC page ---- */

static uint32_t *vapic_reg(const struct vcpu *v, uint32_t off)
{
	return (uint32_t *)(void *)(v->apicv_page + off);
}

static int vapic_highest(const struct vcpu *v, uint32_t base)
{
	for (int i = 7; i >= 0; i--)
		if (*vapic_reg(v, base + (uint32_t)i * 16))
			return i * 32 + 31 - __builtin_clz(*vapic_reg(v, base + (uint32_t)i * 16));
	return 0;
}

/* RVI and SVI from the page, after the CPU changed IRR or ISR. */
static void vapic_status(uint64_t pa, const struct vcpu *v)
{
	fake_vmcs_set(pa, VMCS_GUEST_INTR_STATUS,
		      (uint64_t)vapic_highest(v, 0x100) << 8 | (uint64_t)vapic_highest(v, 0x200));
}

/* Does the MSR bitmap let the CPU do this x2APIC access itself? */
static bool vapic_passes(const struct vcpu *v, uint32_t msr, bool write)
{
	return !(v->msr_bitmap[(write ? 2048 : 0) + msr / 8] & (1u << (msr % 8)));
}

/* At entry: the highest IRR vector above VPPR goes in service, if interrupts are open. */
static void vapic_deliver(uint64_t pa, struct vcpu *v)
{
	uint64_t st = fake_vmcs_get(pa, VMCS_GUEST_INTR_STATUS);
	uint32_t rvi = st & 0xff, svi = (st >> 8) & 0xff, tpr, ppr;

	if (!(fake_vmcs_get(pa, VMCS_PROC_CTLS) & CPU_BASED_TPR_SHADOW) ||
	    !(fake_vmcs_get(pa, VMCS_GUEST_RFLAGS) & 0x200) || (fake_vmcs_get(pa, VMCS_GUEST_INTERRUPTIBILITY) & 3) ||
	    fake_vmcs_get(pa, VMCS_GUEST_ACTIVITY) > ACTIVITY_HLT)
		return;
	tpr = *vapic_reg(v, 0x80) & 0xff;
	ppr = (tpr & 0xf0) >= (svi & 0xf0) ? tpr : svi & 0xf0;
	if ((rvi & 0xf0) <= (ppr & 0xf0))
		return;
	*vapic_reg(v, 0x200 + (rvi >> 5) * 16) &= ~(1u << (rvi & 31));
	*vapic_reg(v, 0x100 + (rvi >> 5) * 16) |= 1u << (rvi & 31);
	vapic_status(pa, v);
	fake_vmcs_set(pa, VMCS_GUEST_ACTIVITY, ACTIVITY_ACTIVE);
}

/*
 * An x2APIC RDMSR/WRMSR the CPU does itself: a read from the page, a TPR
 * write, an EOI (its exit when the EOI-exit bitmap names the vector). False:
 * no exit (the guest goes on); true: the exit's fields are written.
 */
static bool vapic_msr(uint64_t pa, struct vcpu *v, uint32_t msr, bool write, uint64_t val,
		      uint32_t *reason, uint64_t *qual, uint32_t *len)
{
	uint32_t vec;

	if (!write) {
		v->gpr.rax = *vapic_reg(v, (msr & 0xff) << 4);
		v->gpr.rdx = *vapic_reg(v, ((msr & 0xff) << 4) + 4);
		return false;
	}
	if (msr == 0x808) {
		if (!(val >> 8))
			*vapic_reg(v, 0x80) = (uint32_t)val;
		return false;		/* else #GP in the guest */
	}
	if (val)
		return false;
	vec = (fake_vmcs_get(pa, VMCS_GUEST_INTR_STATUS) >> 8) & 0xff;
	*vapic_reg(v, 0x100 + (vec >> 5) * 16) &= ~(1u << (vec & 31));
	vapic_status(pa, v);
	if (!(fake_vmcs_get(pa, VMCS_EOI_EXIT0 + 2 * (vec >> 6)) & (1ull << (vec & 63))))
		return false;
	*reason = VMX_REASON_VIRTUALIZED_EOI;
	*qual = vec;
	*len = 0;
	return true;
}

/*
 * An APIC exit: the VMCS's fields and the guest's registers as the CPU leaves
 * them.  False when the exit cannot happen now (a window not asked for, an
 * x2APIC access the CPU's APIC virtualization did itself).
 */
static bool apic_exit(struct fake_cpu *fc, uint64_t pa, struct vcpu *v, uint8_t ev, uint32_t *reason,
		      uint64_t *qual, uint32_t *len)
{
	uint32_t p = param32(fc), q = param32(fc), msr;
	uint64_t rflags = fake_vmcs_get(pa, VMCS_GUEST_RFLAGS), val;
	uint64_t proc = fake_vmcs_get(pa, VMCS_PROC_CTLS);

	switch (ev & 7) {
	case FA_ACCESS: {
		static const unsigned types[8] = { 0, 0, 0, 1, 1, 1, 2, 3 };
		uint32_t off = p & 0x80 ? (p >> 8) & 0xfff :
			       apic_offsets[(p >> 8) % ARRAY_SIZE(apic_offsets)] + (p & 0x40 ? (p >> 24) & 15 : 0);

		*reason = VMX_REASON_APIC_ACCESS;
		*qual = off | (uint64_t)(p & 0x20 ? (p >> 20) & 15 : types[p & 7]) << 12;
		*len = q & 15;
		v->gpr.rax = q;
		return true;
	}
	case FA_RDMSR:
	case FA_WRMSR:
		msr = apic_msr(p);
		val = apic_msr_value(msr, p, q);
		if ((proc & CPU_BASED_TPR_SHADOW) && msr >= 0x800 && msr <= 0x8ff &&
		    vapic_passes(v, msr, (ev & 7) == FA_WRMSR))
			return vapic_msr(pa, v, msr, (ev & 7) == FA_WRMSR, val, reason, qual, len);
		*reason = (ev & 7) == FA_RDMSR ? VMX_REASON_RDMSR : VMX_REASON_WRMSR;
		*len = 2;
		v->gpr.rcx = p & 0x80000 ? (uint64_t)q << 32 | msr : msr;	/* the CPU takes ECX */
		if ((ev & 7) == FA_WRMSR) {
			v->gpr.rax = (p & 0x40000 ? 0xdead000000000000ull : 0) | (uint32_t)val;
			v->gpr.rdx = val >> 32;
		}
		return true;
	case FA_HLT_IF:
	case FA_HLT_NOIF:
		fake_vmcs_set(pa, VMCS_GUEST_RFLAGS, (ev & 7) == FA_HLT_IF ? rflags | 0x200 : rflags & ~0x200ull);
		*reason = VMX_REASON_HLT;
		*len = 1;
		return true;
	case FA_INTR_WINDOW:
		if (!(proc & PROC_INTR_WINDOW))
			return false;
		fake_vmcs_set(pa, VMCS_GUEST_RFLAGS, rflags | 0x200);
		fake_vmcs_set(pa, VMCS_GUEST_INTERRUPTIBILITY,
			      fake_vmcs_get(pa, VMCS_GUEST_INTERRUPTIBILITY) & ~3ull);
		*reason = VMX_REASON_IRQ_WND;
		return true;
	case FA_NMI_WINDOW:
		if (!(proc & PROC_NMI_WINDOW))
			return false;
		fake_vmcs_set(pa, VMCS_GUEST_INTERRUPTIBILITY,
			      fake_vmcs_get(pa, VMCS_GUEST_INTERRUPTIBILITY) & ~0xbull);
		*reason = VMX_REASON_VIRTUAL_NMI_WND;
		return true;
	default:
		fake_vmcs_set(pa, VMCS_GUEST_RFLAGS, p & 1 ? rflags | 0x200 : rflags & ~0x200ull);
		fake_vmcs_set(pa, VMCS_GUEST_INTERRUPTIBILITY, p & 2 ? (p >> 2 & 1 ? 2 : 1) : 0);
		return false;
	}
}

/* An instruction exit: a guest in the HLT activity state cannot take one. */
static bool insn_event(uint8_t ev)
{
	if (ev & FE_APIC)
		return (ev & 7) <= FA_HLT_NOIF;
	return (ev & 0x27) == FE_HLT || (ev & 0x27) == FE_CPUID;
}

/* The exit the guest takes: the VMCS's exit fields, as the CPU writes them. */
static int take_exit(struct fake_cpu *fc, uint64_t pa, struct vcpu *v, uint8_t ev)
{
	uint32_t reason, len = 0, intr = 0;
	uint64_t qual = 0;

	if (fake_vmcs_get(pa, VMCS_GUEST_ACTIVITY) == ACTIVITY_HLT && insn_event(ev))
		ev = FE_IRQ;
	if ((ev & FE_APIC) && !apic_exit(fc, pa, v, ev, &reason, &qual, &len))
		ev = FE_IRQ;
	switch (ev & FE_APIC ? 0x80 : ev & 0x27) {
	case 0x80:	/* an APIC exit: apic_exit wrote its fields */
		break;
	case FE_VMFAIL:
		fail_valid(7);
		return 2;
	case FE_ENTRY_FAIL:
		fake_vmcs_set(pa, VMCS_EXIT_REASON, VMX_REASON_VMENTRY_GUEST | EXIT_REASON_ENTRY_FAIL);
		fake_vmcs_set(pa, VMCS_EXIT_QUALIFICATION, 0);
		return 0;
	case FE_CPUID:
		reason = VMX_REASON_CPUID;
		len = 2;
		break;
	case FE_IRQ:
		reason = VMX_REASON_IRQ;
		break;
	case FE_CD_NMI:		/* the platform's, so the control domain's */
		fc->cd_nmis++;
		reason = VMX_REASON_EXC_NMI;
		intr = INTR_INFO_VALID | INTR_TYPE_NMI | 2;
		break;
	case FE_NMI:
		/* One nobody sent (a script's): a platform NMI, which is the control domain's. */
		fc->cd_nmis += !fc->nmi;
		fc->nmi = 0;
		reason = VMX_REASON_EXC_NMI;
		intr = INTR_INFO_VALID | INTR_TYPE_NMI | 2;
		break;
	case FE_TIMER:
		if (fake_vmcs_get(pa, VMCS_PIN_CTLS) & PIN_BASED_PREEMPTION_TIMER) {
			reason = VMX_REASON_VMX_TIMER_EXPIRED;
			fake_tsc += fake_vmcs_get(pa, VMCS_PREEMPT_TIMER) << 5;
			fake_vmcs_set(pa, VMCS_PREEMPT_TIMER, 0);
			break;
		}
		/* fall through: no timer, the guest halts */
	default:
		reason = VMX_REASON_HLT;
		len = 1;
		break;
	}
	fake_vmcs_set(pa, VMCS_EXIT_REASON, reason);
	fake_vmcs_set(pa, VMCS_EXIT_QUALIFICATION, qual);
	fake_vmcs_set(pa, VMCS_EXIT_INSN_LEN, len);
	fake_vmcs_set(pa, VMCS_EXIT_INTR_INFO, intr);
	fake_vmcs_set(pa, VMCS_IDT_VECTORING_INFO,
		      ev & FE_VECTORING ? INTR_INFO_VALID | (3u << 8) | (1u << 11) | 14 : 0);
	fake_vmcs_set(pa, VMCS_IDT_VECTORING_ERROR, ev & FE_VECTORING ? 2 : 0);
	((uint8_t *)(uintptr_t)pa)[VMCS_LAUNCHED] = 1;
	return 0;
}

void vcpu_exit_entry(void)
{
}

int vcpu_enter(struct gpr_frame *g, uint32_t launched);
int vcpu_enter(struct gpr_frame *g, uint32_t launched)
{
	unsigned c = current;
	struct fake_cpu *fc = &fake_cpus[c];
	uint64_t pa = fc->vmcs, eptp;
	struct vcpu *v = pa == FAKE_NO_VMCS ? NULL : vcpu_of_vmcs(pa);
	uint8_t ev;
	int rc;

	CHECKF(in_fiber == (int)c && v && g == &v->gpr && v->owner == c,
	       "VM entry outside a run of its owner (vCPU VMCS %#lx)", pa);
	CHECKF(((uint8_t *)(uintptr_t)pa)[VMCS_LAUNCHED] == launched,
	       "%s of a VMCS whose launch state is %u", launched ? "VMRESUME" : "VMLAUNCH",
	       ((uint8_t *)(uintptr_t)pa)[VMCS_LAUNCHED]);
	check_host_and_controls(c, pa);
	check_addresses(c, pa, v);
	check_guest_regs(fc, v);
	eptp = fake_vmcs_get(pa, VMCS_EPTP);
	fake_ept_view(eptp & EPT_ADDR_MASK, (uintptr_t)v->vm->apic_access_page, &entry_view);
	check_cache(c, eptp, &entry_view, "VM entry");
	fill_cache(c, eptp, &entry_view);
	fiber_guest[c] = v;
	vapic_deliver(pa, v);
	ev = next_event(fc);
	while (!(ev & FE_APIC) && (ev & 0x27) == FE_RUN_ON) {
		guest_runs(fc, v);
		fc->mode = FC_GUEST;
		to_main(c, false);
		fc->mode = FC_CALL;
		ev = fc->resume;
		/* After this exit the guest runs on, until its run ends. */
		if (fc->nscript < ARRAY_SIZE(fc->script)) {
			memmove(fc->script + 1, fc->script, fc->nscript++);
			fc->script[0] = FE_RUN_ON;
		}
	}
	guest_runs(fc, v);
	rc = take_exit(fc, pa, v, ev);
	fc->at_exit = fc->r;
	fc->entered = true;
	return rc;
}

/* ---- the machine ---- */

uint64_t hvmetal_code_checksum(void)
{
	return 0x5eed;
}

int hvmetal_canary_setup(void)
{
	uint64_t *page = pool_alloc_page(&host_pool);

	if (!page)
		return -1;
	hv.canary_value = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		page[i] = hv.canary_value;
	hv.canary_page = (uintptr_t)page;
	return 0;
}

void fake_machine_init(void)
{
	int fd = (int)syscall(SYS_memfd_create, "fake-ram", 0);
	size_t n;

	if (fd < 0 || ftruncate(fd, FAKE_RAM_SIZE) < 0)
		abort();
	map_at(FAKE_RAM, FAKE_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	map_at(FAKE_RAM + FAKE_RAM_SIZE, FAKE_BIG - FAKE_RAM - FAKE_RAM_SIZE, PROT_NONE,
	       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	for (uint64_t p = 0; p < FAKE_BIG_SIZE; p += FAKE_PG)
		map_at(FAKE_BIG + p, FAKE_PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       (off_t)(p % FAKE_RAM_SIZE));
	map_at(FAKE_REGION, FAKE_IMAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	map_at(FAKE_POOL, FAKE_POOL_MAX * FAKE_PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (unsigned c = 0; c < FAKE_CPUS; c++) {
		fibers[c].stack = mmap(NULL, FIBER_STACK, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fibers[c].stack == MAP_FAILED)
			abort();
	}
	uint8_t fx[512] __attribute__((aligned(16)));

	__asm__ volatile("fxsave64 %0" : "=m"(fx));
	memcpy(&mxcsr_mask, fx + 28, sizeof(mxcsr_mask));
	if (!mxcsr_mask)
		mxcsr_mask = 0xffbf;
	fields = vmcs_policy_fields(&n);
	for (size_t i = 0; i < n; i++)
		slot_of[fields[i].encoding] = (uint16_t)(i + 1);
}

void fake_machine_reset(unsigned ncpus)
{
	CHECK(in_fiber < 0 && ncpus && ncpus <= FAKE_CPUS);
	fake_ncpus = ncpus;
	fake_tsc = 1ull << 20;
	current = 0;
	nactive = 0;
	finishing = false;
	memset(caches, 0, sizeof(caches));
	for (unsigned c = 0; c < FAKE_CPUS; c++) {
		struct fake_cpu *fc = &fake_cpus[c];

		/* The registers are the harness's to set; the rest starts from nothing. */
		memset(&fc->vmcs, 0, sizeof(*fc) - offsetof(struct fake_cpu, vmcs));
		fc->vmcs = FAKE_NO_VMCS;
		fc->mode = FC_IDLE;
		fiber_guest[c] = NULL;
	}
	host_state.cr0 = 0x80050033;
	host_state.cr3 = FAKE_REGION + 0x1000;
	host_state.cr4 = 0x42620;
	host_state.idt_base = FAKE_REGION + 0x2000;
	host_state.efer = 0x500;
	host_state.pat = 0x0007040600070406ull;
}
