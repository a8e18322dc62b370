/*
 * hvtest.efi: the in-machine suite. Started by hvmetal.efi after the late launch
 * (or by the firmware when hvmetal refused to start), it checks from inside the
 * control domain what hvmetal promises, prints TAP on COM1 and powers off.
 */
#include <efi.h>
#include <efilib.h>
#include <hvmetal/hvmetal.h>
#include "boot/efi_mp.h"
#include "hvtest_hostile.h"
#include "hvtest_storm.h"
#include "hvtest_apic.h"
#include "hvtest_vcpu.h"
#include "hvtest_vm.h"
#include "kernel/cpu.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "ring3.h"
#include "tap.h"
#include "trap.h"

#define MAX_CPUS	64
/* Random hypercalls per CPU in the storm: make test's; make stress builds more. */
#ifndef HVTEST_STORM_CALLS
#define HVTEST_STORM_CALLS	100000
#endif
#define READBACK_FILE	L"\\EFI\\hvmetal\\readback.txt"
#define READBACK_TEXT	"hvmetal-esp-readback\n"

static EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;
static EFI_HANDLE self;

/* Small instruction bodies for trap_call. */
static void do_vmxon(void *arg)
{
	(void)arg;
	static uint64_t region;
	__asm__ volatile("vmxon %0" : : "m"(region) : "cc", "memory");
}

static void do_vmread(void *arg)
{
	uint64_t v, f = 0x681e;

	(void)arg;
	__asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(f) : "cc");
}

static void do_vmcall(void *arg)
{
	(void)arg;
	hvmetal_vmcall(HVMETAL_HC_VERSION, 0, 0, 0, 0);
}

static void do_set_cr4(void *arg)
{
	write_cr4(*(uint64_t *)arg);
}

static void do_xsetbv(void *arg)
{
	uint64_t v = *(uint64_t *)arg;

	__asm__ volatile("xsetbv" : : "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(0));
}

static void do_invd(void *arg)
{
	(void)arg;
	__asm__ volatile("invd" ::: "memory");
}

static void do_store16(void *arg)
{
	__asm__ volatile("movw $0, (%0)" : : "r"(arg) : "memory");
}

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

/* What each CPU saw, filled in through MP services. */
struct cpu_view {
	int seen;
	int signature;
	uint64_t cr4;
	hv_return_t version_ret;
	uint32_t version;
};

static struct cpu_view views[MAX_CPUS];
static EFI_MP_SERVICES_PROTOCOL *mp;

static void look(struct cpu_view *v)
{
	v->seen = 1;
	v->signature = hvmetal_present();
	v->cr4 = read_cr4();
	v->version_ret = hvmetal_version(&v->version);
}

static VOID EFIAPI ap_look(VOID *arg)
{
	UINTN me;

	(void)arg;
	if (!EFI_ERROR(uefi_call_wrapper(mp->WhoAmI, 2, mp, &me)) && me < MAX_CPUS)
		look(&views[me]);
}

static UINTN cpus_total(void)
{
	UINTN total = 1, enabled = 1;

	if (mp)
		uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &total, &enabled);
	return total;
}

static void test_all_cpus(const struct hvmetal_info *info)
{
	UINTN n = cpus_total(), bsp = 0, good = 0;
	EFI_STATUS st = EFI_SUCCESS;

	if (mp) {
		uefi_call_wrapper(mp->WhoAmI, 2, mp, &bsp);
		if (n > 1)
			st = uefi_call_wrapper(mp->StartupAllAPs, 7, mp, ap_look, TRUE, NULL, 0,
					       NULL, NULL);
	}
	look(&views[bsp]);
	tap_ok(!EFI_ERROR(st), "MP services run a procedure on every AP after the launch (INIT/SIPI virtualized)");
	for (UINTN i = 0; i < n && i < MAX_CPUS; i++) {
		struct cpu_view *v = &views[i];

		if (v->seen && v->signature && !(v->cr4 & CR4_VMXE) &&
		    v->version_ret == HV_SUCCESS && v->version == HVMETAL_ABI_VERSION)
			good++;
		else
			tap_diag("cpu %lu: seen %d signature %d cr4 %lx version %x/%u", (uint64_t)i,
				 v->seen, v->signature, v->cr4, v->version_ret, v->version);
	}
	tap_ok(good == n, "CPUID signature, CR4.VMXE=0 and VERSION on all %lu CPUs (%lu good)",
	       (uint64_t)n, (uint64_t)good);
	tap_ok(info->cpu_count == n, "INFO counts %u CPUs under hvmetal, the firmware %lu",
	       info->cpu_count, (uint64_t)n);
}

static void test_cpuid(void)
{
	struct cpuid_regs sig = cpuid(HVMETAL_CPUID_SIGNATURE, 0);
	struct cpuid_regs feat = cpuid(HVMETAL_CPUID_FEATURES, 0);
	struct cpuid_regs l1 = cpuid(1, 0);

	tap_ok(sig.ebx == HVMETAL_CPUID_SIG_EBX && sig.ecx == HVMETAL_CPUID_SIG_ECX &&
	       sig.edx == HVMETAL_CPUID_SIG_EDX && sig.eax == HVMETAL_CPUID_FEATURES,
	       "CPUID 0x40000000 carries the hvmetal signature and max leaf");
	tap_ok(feat.eax == HVMETAL_ABI_VERSION &&
	       (feat.ebx & (HVMETAL_FEAT_EPT | HVMETAL_FEAT_UNRESTRICTED)) ==
	       (HVMETAL_FEAT_EPT | HVMETAL_FEAT_UNRESTRICTED),
	       "CPUID 0x40000001: ABI version %u, features %x", feat.eax, feat.ebx);
	tap_ok(!(l1.ecx & (1u << 5)) && (l1.ecx & (1u << 31)),
	       "CPUID.1: VMX hidden, hypervisor bit set (ecx %x)", l1.ecx);
}

static void test_vmx_hidden(void)
{
	uint64_t cr4 = read_cr4(), bad = cr4 | CR4_VMXE;
	int v;

	tap_ok(!(cr4 & CR4_VMXE), "CR4.VMXE reads 0 (cr4 %lx)", cr4);
	v = trap_call(do_set_cr4, &bad);
	tap_ok(v == 13 && read_cr4() == cr4, "setting CR4.VMXE raises #GP (vector %d) and changes nothing", v);
	v = trap_call(do_vmxon, 0);
	tap_ok(v == 6, "VMXON in the control domain raises #UD (vector %d)", v);
	v = trap_call(do_vmread, 0);
	tap_ok(v == 6, "VMREAD in the control domain raises #UD (vector %d)", v);
}


/* Whether CPL 3 could reach va through the firmware's page tables (4-level paging). */
static bool user_reachable(uint64_t va)
{
	uint64_t cr3, *t;

	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	t = (uint64_t *)(uintptr_t)(cr3 & 0x000ffffffffff000ull);
	for (int level = 3; level >= 0; level--) {
		uint64_t e = t[(va >> (12 + 9 * level)) & 511];

		if (!(e & 1) || !(e & 4))
			return false;
		if (level == 0 || (level < 3 && (e & 0x80)))
			return true;
		t = (uint64_t *)(uintptr_t)(e & 0x000ffffffffff000ull);
	}
	return true;
}
static void test_hypercalls(struct hvmetal_info *info)
{
	uint32_t version = 0;
	hv_return_t r;

	r = hvmetal_version(&version);
	tap_ok(r == HV_SUCCESS && version == HVMETAL_ABI_VERSION, "VERSION answers %u (ret %x)", version, r);
	r = hvmetal_info(info);
	tap_ok(r == HV_SUCCESS && info->abi_version == HVMETAL_ABI_VERSION && info->region_size &&
	       info->pool_free && info->pool_free <= info->pool_total &&
	       (info->features & HVMETAL_FEAT_EPT),
	       "INFO answers: region %lx+%lx, pool %lu/%lu KiB free, features %x (ret %x)",
	       info->region_base, info->region_size, info->pool_free >> 10, info->pool_total >> 10,
	       info->features, r);
	r = hvmetal_vmcall(HVMETAL_HC_INFO, (uintptr_t)info, sizeof(*info) - 1, 0, 0);
	tap_ok(r == HV_BAD_ARGUMENT, "INFO with a wrong size is HV_BAD_ARGUMENT (%x)", r);
	{
		struct hvmetal_info probe;

		memset(&probe, 0x5a, sizeof(probe));
		r = (hv_return_t)ring3_vmcall(HVMETAL_HC_INFO, (uintptr_t)&probe, sizeof(probe));
		tap_ok(r == HV_DENIED && ((uint8_t *)&probe)[0] == 0x5a &&
		       ((uint8_t *)&probe)[sizeof(probe) - 1] == 0x5a,
		       "INFO from CPL 3 is refused with HV_DENIED and writes nothing (%x)", r);
	}
	{
		struct hvmetal_info probe;
		bool user = user_reachable((uintptr_t)&probe) &&
			    user_reachable((uintptr_t)&probe + sizeof(probe) - 1);

		memset(&probe, 0x5a, sizeof(probe));
		r = hvmetal_vmcall(HVMETAL_HC_INFO | HVMETAL_HC_USER, (uintptr_t)&probe, sizeof(probe), 0, 0);
		tap_ok(user ? r == HV_SUCCESS && probe.abi_version == HVMETAL_ABI_VERSION
			    : r == HV_BAD_ARGUMENT && ((uint8_t *)&probe)[0] == 0x5a,
		       "INFO with HVMETAL_HC_USER follows the U/S bits: the buffer is %s (%x)",
		       user ? "a user page: served" : "a supervisor page: refused", r);
	}
	r = hvmetal_vmcall(HVMETAL_HC_VERSION | 0x20000, 0, 0, 0, 0);
	tap_ok(r == HV_UNSUPPORTED, "an unknown flag above the call number is HV_UNSUPPORTED (%x)", r);
	r = hvmetal_vmcall(0x1234, 0, 0, 0, 0);
	tap_ok(r == HV_UNSUPPORTED, "unknown hypercall 0x1234 is HV_UNSUPPORTED (%x)", r);
	r = hvmetal_vmcall(~0ull, 0, 0, 0, 0);
	tap_ok(r == HV_UNSUPPORTED, "hypercall ~0 is HV_UNSUPPORTED (%x)", r);
}

static void test_bad_pointers(const struct hvmetal_info *info)
{
	static const struct { const char *what; uint64_t addr; } bad[] = {
		{ "non-canonical", 0x8000000000000000ull },
		{ "unmapped high", 0x00007ffffffff000ull },
		{ "local APIC MMIO", 0xfee00000ull },
	};
	uint8_t *edge = (uint8_t *)(uintptr_t)info->region_base - 16;
	uint8_t before[16];
	hv_return_t r;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = hvmetal_vmcall(HVMETAL_HC_INFO, bad[i].addr, sizeof(struct hvmetal_info), 0, 0);
		tap_ok(r == HV_BAD_ARGUMENT, "INFO to a %s pointer is HV_BAD_ARGUMENT (%x)", bad[i].what, r);
	}
	r = hvmetal_vmcall(HVMETAL_HC_INFO, info->region_base, sizeof(struct hvmetal_info), 0, 0);
	tap_ok(r == HV_BAD_ARGUMENT, "INFO into hvmetal's own memory is HV_BAD_ARGUMENT (%x)", r);
	/* Straddling the end of control-domain RAM into hvmetal: nothing written at all. */
	memcpy(before, edge, sizeof(before));
	r = hvmetal_vmcall(HVMETAL_HC_INFO, (uintptr_t)edge, sizeof(struct hvmetal_info), 0, 0);
	tap_ok(r == HV_BAD_ARGUMENT && memcmp(before, edge, sizeof(before)) == 0,
	       "INFO straddling into hvmetal's memory fails and writes nothing (%x)", r);
}

/* The OS booted later must keep out of hvmetal's region: the firmware's map says so. */
static void test_region_reserved(const struct hvmetal_info *info)
{
	UINTN entries, key, size;
	UINT32 version;
	EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&entries, &key, &size, &version);
	int reserved = 0;

	for (UINTN i = 0; map && i < entries; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)((UINT8 *)map + i * size);

		if (d->PhysicalStart <= info->region_base &&
		    d->PhysicalStart + d->NumberOfPages * 4096 >= info->region_base + info->region_size)
			reserved = d->Type == EfiRuntimeServicesCode;
	}
	if (map)
		FreePool(map);
	tap_ok(reserved, "hvmetal's region is runtime-services memory in the UEFI map (an OS keeps out)");
}

static void test_isolation(const struct hvmetal_info *info)
{
	struct hvmetal_selfcheck sc = { 0 }, after = { 0 };
	volatile uint64_t *canary, *region = (volatile uint64_t *)(uintptr_t)info->region_base;
	hv_return_t r = hvmetal_selfcheck(&sc);
	uint64_t seen;

	tap_ok(r == HV_SUCCESS && sc.canary_intact && sc.code_intact &&
	       sc.canary_addr >= info->region_base &&
	       sc.canary_addr < info->region_base + info->region_size,
	       "SELFCHECK: canary page at %lx inside hvmetal, intact", sc.canary_addr);
	canary = (volatile uint64_t *)(uintptr_t)sc.canary_addr;
	seen = canary[0];
	tap_ok(seen != sc.canary_value, "reading hvmetal's canary page does not return the canary (%lx)", seen);
	tap_ok((region[0] & 0xffff) != 0x5a4d, "reading hvmetal's region does not return its image (MZ header)");
	for (unsigned i = 0; i < 512; i++) {
		canary[i] = ~sc.canary_value;
		region[i] = 0xdeadbeefdeadbeefull;
	}
	r = hvmetal_selfcheck(&after);
	tap_ok(r == HV_SUCCESS && after.canary_intact && after.code_intact &&
	       after.code_checksum == sc.code_checksum,
	       "writes into hvmetal's memory change nothing in hvmetal (canary %u, code %u)",
	       after.canary_intact, after.code_intact);
}

static void test_instructions(void)
{
	uint64_t xcr0, bad = 0;
	int v;

	/* XSETBV needs CR4.OSXSAVE; the firmware may not have set it. */
	if ((cpuid(1, 0).ecx & (1u << 26)) && !(read_cr4() & CR4_OSXSAVE))
		write_cr4(read_cr4() | CR4_OSXSAVE);
	xcr0 = xgetbv0();
	v = trap_call(do_xsetbv, &xcr0);
	tap_ok(v == TRAP_NONE && xgetbv0() == xcr0, "XSETBV of the current XCR0 (%lx) is emulated", xcr0);
	v = trap_call(do_xsetbv, &bad);
	tap_ok(v == 13 && xgetbv0() == xcr0, "XSETBV with XCR0=0 raises #GP (vector %d), XCR0 kept", v);
	v = trap_call(do_invd, 0);
	tap_ok(v == TRAP_NONE, "INVD is survived (vector %d)", v);
}

/*
 * hvmetal write-traps the xAPIC page (to see INIT/SIPI go by) and replays stores.
 * In x2APIC mode (a firmware that left the boot CPU so: tests/x2apic-boot) the
 * APIC is its MSRs and the page is not the APIC: TPR goes through its MSR.
 */
static void test_apic_page(void)
{
	volatile uint32_t *tpr = (volatile uint32_t *)(uintptr_t)((rdmsr(0x1b) & ~0xfffull) + 0x80);
	uint32_t old;
	int v;

	if (rdmsr(0x1b) & (1u << 10)) {
		uint64_t was = rdmsr(0x808);

		wrmsr(0x808, 0x20);
		tap_ok(rdmsr(0x808) == 0x20, "x2APIC mode: the TPR MSR takes a write (reads %lx)", rdmsr(0x808));
		wrmsr(0x808, was);
		return;
	}
	old = *tpr;
	*tpr = 0x20;
	tap_ok((*tpr & 0xff) == 0x20, "a 32-bit store to the local APIC (TPR) is replayed (reads %x)", *tpr);
	*tpr = old;
	tap_ok(*tpr == old, "and restored (TPR %x)", *tpr);
	v = trap_call(do_store16, (void *)tpr);
	tap_ok(v == 13 && *tpr == old, "a 16-bit store to the local APIC is refused with #GP (vector %d)", v);
}

static void test_absent(void)
{
	int v;

	tap_ok(!hvmetal_present(), "no hvmetal signature in CPUID");
	v = trap_call(do_vmcall, 0);
	tap_ok(v == 6, "VMCALL without a hypervisor raises #UD (vector %d)", v);
	v = trap_call(do_vmxon, 0);
	tap_ok(v == 6, "VMXON with CR4.VMXE clear raises #UD (vector %d)", v);
}

static void test_uefi(void)
{
	EFI_PHYSICAL_ADDRESS pages = 0;
	EFI_LOADED_IMAGE *li = NULL;
	EFI_FILE_HANDLE root = NULL, f = NULL;
	EFI_STATUS st;
	char buf[64] = { 0 };
	UINTN len = sizeof(buf) - 1;
	uint64_t t0;
	int ok;

	st = uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData, 4, &pages);
	ok = !EFI_ERROR(st);
	if (ok) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)pages;

		for (unsigned i = 0; i < 2048; i++)
			p[i] = i * 0x0101010101010101ull;
		for (unsigned i = 0; i < 2048; i++)
			ok &= p[i] == i * 0x0101010101010101ull;
		ok &= !EFI_ERROR(uefi_call_wrapper(BS->FreePages, 2, pages, 4));
	}
	tap_ok(ok, "UEFI AllocatePages/FreePages work, memory reads back");

	uefi_call_wrapper(BS->HandleProtocol, 3, self, &LoadedImageProtocol, (void **)&li);
	if (li)
		root = LibOpenRoot(li->DeviceHandle);
	if (root &&
	    !EFI_ERROR(uefi_call_wrapper(root->Open, 5, root, &f, READBACK_FILE, EFI_FILE_MODE_READ, 0))) {
		st = uefi_call_wrapper(f->Read, 3, f, &len, buf);
		uefi_call_wrapper(f->Close, 1, f);
	} else {
		st = EFI_NOT_FOUND;
	}
	tap_ok(!EFI_ERROR(st) && len == sizeof(READBACK_TEXT) - 1 &&
	       memcmp(buf, READBACK_TEXT, len) == 0, "UEFI reads a file from the ESP");
	st = uefi_call_wrapper(ST->ConOut->OutputString, 2, ST->ConOut, L"hvtest: UEFI console still prints\r\n");
	tap_ok(!EFI_ERROR(st), "UEFI console OutputString works");
	t0 = rdtsc();
	st = uefi_call_wrapper(BS->Stall, 1, 1000);
	tap_ok(!EFI_ERROR(st) && rdtsc() > t0, "UEFI Stall works and the TSC advances");
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	struct hvmetal_info info = { 0 };
	unsigned failed;

	InitializeLib(image, st);
	self = image;
	uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp);
	trap_install();
	if (hvmetal_present()) {
		tap_diag("hvtest: hvmetal present: full suite");
		test_cpuid();
		test_vmx_hidden();
		test_hypercalls(&info);
		test_all_cpus(&info);
		test_bad_pointers(&info);
		test_region_reserved(&info);
		test_isolation(&info);
		test_instructions();
		test_apic_page();
		test_hostile_cd(&info);
		test_vm_api(&info, mp, (unsigned)cpus_total());
		test_vcpu_api(mp, (unsigned)cpus_total());
		test_apic_api(mp, (unsigned)cpus_total());
		test_storm(mp, (unsigned)cpus_total(), HVTEST_STORM_CALLS);
	} else {
		tap_diag("hvtest: hvmetal absent: running only the absent checks");
		test_absent();
	}
	trap_remove();
	test_uefi();
	failed = tap_done();
	log_printf("hvtest: %u failed\n", failed);
	log_flush();
	uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS;
}
