/*
 * hvbench.efi: path lengths of hvmetal's calls, measured from the control domain.
 * Under Bochs the TSC counts executed instructions, so each figure is the exact
 * number of instructions (guest and hvmetal together) from before the call to
 * after it returns. Prints "bench: name value unit" lines on COM1, then powers off.
 */
#include <efi.h>
#include <efilib.h>
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "hvbench.h"
#include "kernel/log.h"
#include "window.h"

#define K4	4096ull
#define MB2	(2ull << 20)
#define GB1	(1ull << 30)
#define RWX	(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)
#define REPS	64

uint64_t tsc_overhead;
static EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;

void report(const char *name, uint64_t value, const char *unit)
{
	log_printf("bench: %s: %lu %s\n", name, value, unit);
}

static uint64_t table_bytes(void)
{
	struct hvmetal_vm_stats st;

	return hvmetal_vm_stats(&st) == HV_SUCCESS ? st.table_pages * K4 : 0;
}

/* Instructions for one hv_vm_map of size bytes from hpa at gpa, and the EPT table bytes it took. */
static void bench_map(const char *name, uint64_t hpa, uint64_t gpa, uint64_t size)
{
	uint64_t base = table_bytes(), t0, t1;
	char label[64];

	t0 = tsc();
	hv_return_t r = hv_vm_map((void *)(uintptr_t)hpa, gpa, size, RWX);
	t1 = tsc();
	if (r != HV_SUCCESS) {
		log_printf("bench: %s failed (%x)\n", name, r);
		return;
	}
	report(name, t1 - t0 - tsc_overhead, "instructions");
	log_snprintf(label, sizeof(label), "%s: EPT table bytes", name);
	report(label, table_bytes() - base, "bytes");
	hv_vm_unmap(gpa, size);
}

/* 1 GiB whose 4 KiB pages are scattered: window page i is physical page (262143 - i) of mem. */
static void bench_scattered(uint64_t hpa)
{
	struct window w;
	uint64_t t0, t1;
	hv_return_t r;

	if (window_open(&w, GB1 / K4) < 0)
		return;
	for (uint64_t i = 0; i < GB1 / K4; i++)
		w.pte[i] = (hpa + (GB1 / K4 - 1 - i) * K4) | WINDOW_RW;
	window_enter(&w);
	t0 = tsc();
	r = hv_vm_map(w.va, GB1, GB1, RWX);
	t1 = tsc();
	window_leave(&w);
	if (r == HV_SUCCESS) {
		uint64_t bytes = table_bytes();

		report("hv_vm_map 1 GiB of scattered 4 KiB pages", t1 - t0 - tsc_overhead, "instructions");
		report("hv_vm_map 1 GiB of scattered 4 KiB pages: EPT table bytes", bytes - K4, "bytes");
		hv_vm_unmap(GB1, GB1);
	} else {
		log_printf("bench: scattered map failed (%x)\n", r);
	}
	window_close(&w);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_MP_SERVICES_PROTOCOL *mp = NULL;
	UINTN cpus = 1, enabled = 1;
	void *mem = 0;
	uint64_t hpa, t0, t1, sum = 0, v;
	hv_vm_space_t asid;

	InitializeLib(image, st);
	/* Two CPUs: the cross-CPU figure alone (one CPU's TSC would count both CPUs' instructions). */
	if (!EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp)) &&
	    !EFI_ERROR(uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &cpus, &enabled)) && cpus > 1) {
		if (hvmetal_present())
			bench_apic_ipi(mp);
		goto off;
	}
	t0 = tsc();
	t1 = tsc();
	tsc_overhead = t1 - t0;
	if (!hvmetal_present() || hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS ||
	    hv_vm_allocate(&mem, GB1 + MB2, HV_ALLOCATE_DEFAULT) != HV_SUCCESS) {
		log_printf("bench: hvmetal absent or no memory: nothing measured\n");
		goto out;
	}
	for (int i = 0; i < REPS; i++) {
		t0 = tsc();
		hvmetal_vmcall(HVMETAL_HC_VERSION, 0, 0, 0, &v);
		t1 = tsc();
		sum += t1 - t0 - tsc_overhead;
	}
	report("null hypercall round trip (VERSION)", sum / REPS, "instructions");
	bench_vcpu();
	hpa = ((uintptr_t)mem + MB2 - 1) & ~(MB2 - 1);
	bench_map("hv_vm_map 4 KiB", hpa, 0, K4);
	bench_map("hv_vm_map 2 MiB aligned", hpa, MB2, MB2);
	bench_map((hpa & (GB1 - 1)) ? "hv_vm_map 1 GiB contiguous, 2M-aligned" :
		  "hv_vm_map 1 GiB aligned", hpa, GB1, GB1);
	bench_scattered(hpa);
	/* Protect one 4 KiB page inside a large page: the split. */
	if (hv_vm_map((void *)(uintptr_t)hpa, GB1, GB1, RWX) == HV_SUCCESS) {
		t0 = tsc();
		hv_vm_protect(GB1 + 12345 * K4, K4, HV_MEMORY_READ);
		t1 = tsc();
		report("hv_vm_protect splitting a large page", t1 - t0 - tsc_overhead, "instructions");
		t0 = tsc();
		hv_vm_protect(GB1 + 12345 * K4, K4, RWX);
		t1 = tsc();
		report("hv_vm_protect merging it back", t1 - t0 - tsc_overhead, "instructions");
		hv_vm_unmap(GB1, GB1);
	}
	t0 = tsc();
	hv_return_t r = hv_vm_space_create(&asid);
	t1 = tsc();
	if (r == HV_SUCCESS) {
		report("hv_vm_space_create", t1 - t0 - tsc_overhead, "instructions");
		hv_vm_space_destroy(asid);
	}
	hv_vm_destroy();
	hv_vm_deallocate(mem, GB1 + MB2);
	bench_apic();
out:
	log_printf("bench: done\n");
off:
	log_flush();
	uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS;
}
