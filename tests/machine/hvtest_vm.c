/* In-machine checks of Apple's VM and memory API (hv_vm_*, address spaces) on hvmetal. */
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "hvtest_vm.h"
#include "kernel/cpu.h"
#include "tap.h"
#include "window.h"

#define MB2	(2ull << 20)
#define K4	4096ull
#define GB1	(1ull << 30)
#define SPACES	256

static uint64_t pool_free_now(void)
{
	struct hvmetal_info info;

	return hvmetal_info(&info) == HV_SUCCESS ? info.pool_free : 0;
}

static bool translates(uint32_t asid, uint64_t gpa, uint64_t hpa, uint64_t page_size, uint64_t flags)
{
	struct hvmetal_translation t;

	return hvmetal_vm_translate(asid, gpa, &t) == HV_SUCCESS && t.hpa == hpa &&
	       t.page_size == page_size && t.flags == flags;
}

static bool unmapped(uint32_t asid, uint64_t gpa)
{
	struct hvmetal_translation t;

	return hvmetal_vm_translate(asid, gpa, &t) == HV_BAD_ARGUMENT;
}

static void test_without_vm(void)
{
	uint64_t v = 0;
	hv_return_t r;

	r = hv_capability(HV_CAP_ADDRSPACEMAX, &v);
	tap_ok(r == HV_SUCCESS && v >= 256, "hv_capability(ADDRSPACEMAX) = %lu", v);
	r = hv_capability(HV_CAP_VCPUMAX, &v);
	tap_ok(r == HV_SUCCESS && v >= 1, "hv_capability(VCPUMAX) = %lu", v);
	tap_ok(hv_capability(7, &v) == HV_BAD_ARGUMENT, "hv_capability of an unknown capability is HV_BAD_ARGUMENT");
	tap_ok(hv_vm_map((void *)0x100000, 0, K4, HV_MEMORY_READ) == HV_NO_DEVICE &&
	       hv_vm_destroy() == HV_NO_DEVICE, "hv_vm_map and hv_vm_destroy without a VM are HV_NO_DEVICE");
	r = hvmetal_vmcall6(HVMETAL_HC_VM_UNMAP, 0x12345, 0, 0, K4, 0, 0);
	tap_ok(r == HV_BAD_ARGUMENT, "a hypercall naming no VM is HV_BAD_ARGUMENT (%x)", r);
	tap_ok(hv_vm_create(1ull << 20) == HV_BAD_ARGUMENT, "hv_vm_create with an unknown option bit is HV_BAD_ARGUMENT");
	/* Issue 9, defect 17: mitigations hvmetal does not implement are refused, not ignored. */
	tap_ok(hv_vm_create(HV_VM_SPECIFY_MITIGATIONS) == HV_UNSUPPORTED &&
	       hv_vm_create(HV_VM_SPECIFY_MITIGATIONS | HV_VM_MITIGATION_A_ENABLE) == HV_UNSUPPORTED,
	       "hv_vm_create with HV_VM_SPECIFY_MITIGATIONS is HV_UNSUPPORTED");
}

static void test_argument_checks(uint8_t *mem, const struct hvmetal_info *info)
{
	static const struct { const char *what; uint64_t uva, gpa, size, flags; hv_return_t want; } bad[] = {
		{ "unaligned uva", 1, 0, K4, HV_MEMORY_READ, HV_BAD_ARGUMENT },
		{ "unaligned gpa", 0, 0x800, K4, HV_MEMORY_READ, HV_BAD_ARGUMENT },
		{ "unaligned size", 0, 0, 100, HV_MEMORY_READ, HV_BAD_ARGUMENT },
		{ "zero size", 0, 0, 0, HV_MEMORY_READ, HV_BAD_ARGUMENT },
		{ "gpa + size wrapping", 0, ~0ull & ~0xfffull, 2 * K4, HV_MEMORY_READ, HV_BAD_ARGUMENT },
		{ "gpa beyond the address space", 0, 1ull << 52, K4, HV_MEMORY_READ, HV_BAD_ARGUMENT },
		{ "no permission", 0, 0, K4, 0, HV_BAD_ARGUMENT },
		{ "write without read", 0, 0, K4, HV_MEMORY_WRITE, HV_BAD_ARGUMENT },
		{ "an unknown flag bit", 0, 0, K4, HV_MEMORY_READ | 0x1000, HV_BAD_ARGUMENT },
		{ "user-execute (no MBEC yet)", 0, 0, K4, HV_MEMORY_READ | HV_MEMORY_UEXEC, HV_UNSUPPORTED },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hv_return_t r = hv_vm_map(mem + bad[i].uva, bad[i].gpa, bad[i].size, bad[i].flags);

		tap_ok(r == bad[i].want, "hv_vm_map with %s is refused (%x)", bad[i].what, r);
	}
	tap_ok(hv_vm_map((void *)(uintptr_t)info->region_base, 0, K4, HV_MEMORY_READ) == HV_BAD_ARGUMENT,
	       "hv_vm_map of hvmetal's own memory is HV_BAD_ARGUMENT");
	/* Last page of control-domain RAM, then hvmetal's first page: nothing may stay mapped. */
	tap_ok(hv_vm_map((void *)(uintptr_t)(info->region_base - K4), 0x10000, 2 * K4,
			 HV_MEMORY_READ) == HV_BAD_ARGUMENT && unmapped(0, 0x10000),
	       "hv_vm_map reaching into hvmetal's memory fails and leaves no partial mapping");
	tap_ok(hv_vm_unmap(0x40000000, MB2) == HV_SUCCESS && hv_vm_protect(0x40000000, MB2, HV_MEMORY_READ) == HV_SUCCESS,
	       "hv_vm_unmap and hv_vm_protect of a hole succeed and do nothing");
}

static void test_large_pages(uint8_t *mem)
{
	uint64_t hpa = ((uintptr_t)mem + MB2 - 1) & ~(MB2 - 1);
	uint64_t rwx = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;
	struct hvmetal_vm_stats before, split, merged;

	tap_ok(hv_vm_map((void *)(uintptr_t)hpa, MB2, MB2, rwx) == HV_SUCCESS &&
	       translates(0, MB2 + 0x1234, hpa + 0x1234, MB2, rwx),
	       "2 MiB of aligned contiguous memory is one 2 MiB EPT page");
	tap_ok(hv_vm_map((void *)(uintptr_t)hpa, MB2 + K4, K4, rwx) == HV_BAD_ARGUMENT,
	       "mapping over an existing mapping is HV_BAD_ARGUMENT");
	hvmetal_vm_stats(&before);
	tap_ok(hv_vm_protect(MB2 + 5 * K4, K4, HV_MEMORY_READ) == HV_SUCCESS &&
	       translates(0, MB2 + 5 * K4, hpa + 5 * K4, K4, HV_MEMORY_READ) &&
	       translates(0, MB2 + 6 * K4, hpa + 6 * K4, K4, rwx) &&
	       hvmetal_vm_stats(&split) == HV_SUCCESS && split.table_pages == before.table_pages + 1,
	       "protecting one page splits the 2 MiB page into 4 KiB pages (one more table)");
	tap_ok(hv_vm_protect(MB2 + 5 * K4, K4, rwx) == HV_SUCCESS && translates(0, MB2 + 5 * K4, hpa + 5 * K4, MB2, rwx) &&
	       hvmetal_vm_stats(&merged) == HV_SUCCESS && merged.table_pages == before.table_pages,
	       "restoring the permission merges back into one 2 MiB page");
	tap_ok(hv_vm_unmap(MB2, MB2) == HV_SUCCESS && unmapped(0, MB2), "hv_vm_unmap removes the mapping");
}

/*
 * A map that fails after part of it went in must take that part back even when it
 * merged with a mapping below it into a large page: the undo splits the page again.
 * Window pages: the last page of the 2 MiB page (joins the 511 mapped below it), a
 * page from elsewhere (a second run), then hvmetal's memory (the failure).
 */
static void test_undo_after_merge(uint8_t *mem, const struct hvmetal_info *info)
{
	uint64_t hpa = ((uintptr_t)mem + MB2 - 1) & ~(MB2 - 1);
	uint64_t rwx = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;
	struct hvmetal_vm_stats before, after;
	struct window w;
	hv_return_t r;

	if (window_open(&w, 3) < 0) {
		tap_ok(0, "page tables for a scattered window");
		return;
	}
	w.pte[0] = (hpa + MB2 - K4) | WINDOW_RW;
	w.pte[1] = hpa | WINDOW_RW;
	w.pte[2] = info->region_base | WINDOW_RW;
	hv_vm_map((void *)(uintptr_t)hpa, MB2, MB2 - K4, rwx);
	hvmetal_vm_stats(&before);
	window_enter(&w);
	r = hv_vm_map(w.va, 2 * MB2 - K4, 3 * K4, rwx);
	window_leave(&w);
	hvmetal_vm_stats(&after);
	tap_ok(r == HV_BAD_ARGUMENT && unmapped(0, 2 * MB2 - K4) && unmapped(0, 2 * MB2) &&
	       translates(0, 2 * MB2 - 2 * K4, hpa + MB2 - 2 * K4, K4, rwx) &&
	       after.table_pages == before.table_pages,
	       "a map failing after its first run merged into a 2 MiB page is undone (%x, %lu -> %lu tables)",
	       r, before.table_pages, after.table_pages);
	w.pte[2] = (hpa + K4) | WINDOW_RW;
	window_enter(&w);
	r = hv_vm_map(w.va, 2 * MB2 - K4, 3 * K4, rwx);
	window_leave(&w);
	tap_ok(r == HV_SUCCESS && translates(0, MB2 + 0x123, hpa + 0x123, MB2, rwx) &&
	       translates(0, 2 * MB2 + K4, hpa + K4, K4, rwx),
	       "the same map with a good third page succeeds: a 2 MiB page, then 4 KiB pages");
	hv_vm_unmap(MB2, 2 * MB2);
	window_close(&w);
}

/* 1 GiB from host-contiguous memory: 1 GiB pages where the host pages are 1 GiB
 * aligned, 2 MiB pages otherwise; a 4 KiB protect splits, restoring merges back. */
static void test_one_gib(void)
{
	uint64_t rwx = HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC;
	uint64_t gpa = 1ull << 30, hpa, large = 0, big;
	struct hvmetal_vm_stats before, mapped, split, merged, after;
	void *mem = 0;
	int ok, split_ok, merge_ok, unmap_ok;

	if (hv_vm_allocate(&mem, GB1 + MB2, HV_ALLOCATE_DEFAULT) != HV_SUCCESS) {
		tap_ok(0, "hv_vm_allocate of 1 GiB + 2 MiB (the machine needs 2 GiB of RAM)");
		return;
	}
	hpa = ((uintptr_t)mem + MB2 - 1) & ~(MB2 - 1);
	hvmetal_vm_stats(&before);
	ok = hv_vm_map((void *)(uintptr_t)hpa, gpa, GB1, rwx) == HV_SUCCESS;
	for (uint64_t off = 0; ok && off < GB1; off += MB2) {
		struct hvmetal_translation t;

		if (hvmetal_vm_translate(0, gpa + off, &t) == HV_SUCCESS && t.hpa == hpa + off &&
		    t.page_size >= MB2)
			large++;
	}
	big = (hpa & (GB1 - 1)) ? MB2 : GB1;
	hvmetal_vm_stats(&mapped);
	tap_ok(ok && large == GB1 / MB2 && translates(0, gpa + GB1 - K4, hpa + GB1 - K4, big, rwx),
	       "1 GiB of contiguous memory maps with %s EPT pages (%lu of 512 chunks large, %lu table pages)",
	       big == GB1 ? "1 GiB" : "2 MiB", large, mapped.table_pages);
	/* A 2 MiB page splits into one page table; a 1 GiB page into a PD and a PT. */
	split_ok = hv_vm_protect(gpa + 12345 * K4, K4, HV_MEMORY_READ) == HV_SUCCESS &&
		   translates(0, gpa + 12345 * K4, hpa + 12345 * K4, K4, HV_MEMORY_READ) &&
		   translates(0, gpa + 12346 * K4, hpa + 12346 * K4, K4, rwx) &&
		   hvmetal_vm_stats(&split) == HV_SUCCESS &&
		   split.table_pages == mapped.table_pages + (big == GB1 ? 2 : 1);
	tap_ok(split_ok, "protecting one 4 KiB page inside it splits (%lu -> %lu table pages)",
	       mapped.table_pages, split.table_pages);
	merge_ok = hv_vm_protect(gpa + 12345 * K4, K4, rwx) == HV_SUCCESS &&
		   translates(0, gpa + 12345 * K4, hpa + 12345 * K4, big, rwx) &&
		   hvmetal_vm_stats(&merged) == HV_SUCCESS && merged.table_pages == mapped.table_pages;
	tap_ok(merge_ok, "restoring the permission merges back (%lu table pages)", merged.table_pages);
	unmap_ok = hv_vm_unmap(gpa, GB1) == HV_SUCCESS && unmapped(0, gpa) &&
		   hvmetal_vm_stats(&after) == HV_SUCCESS && after.table_pages == before.table_pages;
	tap_ok(unmap_ok, "unmapping the 1 GiB frees its tables (%lu table pages left)", after.table_pages);
	hv_vm_deallocate(mem, GB1 + MB2);
}

static void test_spaces(uint8_t *mem)
{
	hv_vm_space_t asid[SPACES], extra;
	unsigned made = 0, mapped = 0, gone = 0;
	struct hvmetal_vm_stats st;

	for (unsigned i = 0; i < SPACES - 1 && hv_vm_space_create(&asid[i]) == HV_SUCCESS; i++)
		made++;
	tap_ok(made == SPACES - 1, "%u more address spaces created (256 with the default one)", made);
	for (unsigned i = 0; i < made; i++)
		if (hv_vm_map_space(asid[i], mem, (uint64_t)i * K4, K4, HV_MEMORY_READ) == HV_SUCCESS &&
		    translates(asid[i], (uint64_t)i * K4, (uintptr_t)mem, K4, HV_MEMORY_READ) &&
		    unmapped(0, (uint64_t)i * K4))
			mapped++;
	tap_ok(mapped == made, "each space maps its own page, invisible in the default space (%u)", mapped);
	tap_ok(hv_vm_space_create(&extra) == HV_SUCCESS && hvmetal_vm_stats(&st) == HV_SUCCESS &&
	       st.spaces == SPACES + 1 && hv_vm_space_destroy(extra) == HV_SUCCESS,
	       "257th space works too");
	for (unsigned i = 0; i < made; i++)
		if (hv_vm_space_destroy(asid[i]) == HV_SUCCESS)
			gone++;
	tap_ok(gone == made && hvmetal_vm_stats(&st) == HV_SUCCESS && st.spaces == 1,
	       "all of them destroyed (%u), the default space remains", gone);
	tap_ok(hv_vm_space_destroy(HV_VM_SPACE_DEFAULT) == HV_BAD_ARGUMENT &&
	       hv_vm_space_destroy(asid[0]) == HV_BAD_ARGUMENT && hv_vm_space_destroy(5000) == HV_BAD_ARGUMENT,
	       "the default space, a destroyed one and an unknown one cannot be destroyed");
}

/* Spaces until the pool runs out, all of them destroyed; the total. */
static uint32_t spaces_until_dry(uint64_t max, hv_return_t *r)
{
	uint32_t made = 1;	/* the default space */
	hv_vm_space_t asid;

	while ((*r = hv_vm_space_create(&asid)) == HV_SUCCESS && made <= max)
		made++;
	for (asid = 1; asid < made; asid++)
		hv_vm_space_destroy(asid);
	return made;
}

/* More spaces than any fixed table would hold; a second round gets as many (no leak). */
static void test_spaces_bounded_by_memory(void)
{
	uint64_t max = 0;
	hv_return_t r1, r2;
	uint32_t first, second;
	struct hvmetal_vm_stats st;

	hv_capability(HV_CAP_ADDRSPACEMAX, &max);
	first = spaces_until_dry(max, &r1);
	second = spaces_until_dry(max, &r2);
	tap_ok(r1 == HV_NO_RESOURCES && first > 1024 && first <= max,
	       "spaces until the pool is dry: %u of ADDRSPACEMAX %lu, then HV_NO_RESOURCES (%x)",
	       first, max, r1);
	tap_ok(r2 == HV_NO_RESOURCES && second == first && hvmetal_vm_stats(&st) == HV_SUCCESS &&
	       st.spaces == 1, "all destroyed, and a second round makes as many (%u)", second);
}

/*
 * Runs hvmetal's pool dry: 4 KiB maps 2 MiB apart each need a new page table. The
 * map that finds no table left is HV_NO_RESOURCES and leaves nothing behind.
 */
static void test_pool_exhaustion(uint8_t *mem)
{
	hv_vm_space_t asid;
	uint64_t maps = 0, free_before = 0, free_after = 0;
	hv_return_t r = HV_SUCCESS;

	if (hv_vm_space_create(&asid) != HV_SUCCESS) {
		tap_ok(0, "a space for the pool exhaustion test");
		return;
	}
	while (r == HV_SUCCESS && maps < 100000) {
		free_before = pool_free_now();
		r = hv_vm_map_space(asid, mem, maps * MB2, K4, HV_MEMORY_READ);
		free_after = pool_free_now();
		maps += r == HV_SUCCESS;
	}
	tap_ok(r == HV_NO_RESOURCES && free_after == free_before && unmapped(asid, maps * MB2),
	       "after %lu maps the pool is dry: HV_NO_RESOURCES (%x), nothing mapped, nothing taken",
	       maps, r);
	tap_ok(hv_vm_space_destroy(asid) == HV_SUCCESS && pool_free_now() > free_before,
	       "destroying the space gives the tables back");
}

/* ---- a long map on CPU 0, other calls on the same VM from CPU 1 ---- */

#define FLIGHT_PAGES	8192	/* 32 MiB of guest-physical, every page a run of its own */
#define FLIGHT_WAIT	2000000000ull

static hv_vm_space_t flight_asid;
static uint64_t flight_tables;		/* the VM's table pages before the map */
static volatile int flight;		/* 1 while CPU 0 is inside hv_vm_map, 2 after */
static volatile int flight_ap_done, flight_busy_during;
static volatile unsigned flight_calls;	/* CPU 1's calls that completed during the map */
static volatile hv_return_t flight_busy;

/*
 * CPU 1: once the map has put in its first run (more table pages), destroying
 * its space must be HV_BUSY, and calls on the VM must go on completing.
 */
static VOID EFIAPI ap_during_map(VOID *arg)
{
	struct hvmetal_vm_stats st = { 0 };
	uint64_t t0 = rdtsc();

	(void)arg;
	while (flight != 2 && rdtsc() - t0 < FLIGHT_WAIT &&
	       !(hvmetal_vm_stats(&st) == HV_SUCCESS && st.table_pages > flight_tables))
		cpu_pause();
	if (flight == 1) {
		flight_busy = hv_vm_space_destroy(flight_asid);
		flight_busy_during = flight == 1;
	}
	while (flight == 1 && rdtsc() - t0 < FLIGHT_WAIT)
		if (hvmetal_vm_stats(&st) == HV_SUCCESS && flight == 1)
			flight_calls++;
	flight_ap_done = 1;
}

static void test_map_concurrent(EFI_MP_SERVICES_PROTOCOL *mp, uint8_t *mem)
{
	struct hvmetal_vm_stats st;
	EFI_EVENT done = NULL;
	EFI_STATUS status;
	struct window w;
	hv_return_t r = HV_ERROR;

	if (window_open(&w, FLIGHT_PAGES) < 0 || hv_vm_space_create(&flight_asid) != HV_SUCCESS ||
	    hvmetal_vm_stats(&st) != HV_SUCCESS) {
		tap_ok(0, "a scattered window and a space for the concurrent map");
		return;
	}
	/* Two pages 8 KiB apart, alternately: no two neighbours are host-contiguous. */
	for (uint64_t i = 0; i < FLIGHT_PAGES; i++)
		w.pte[i] = ((uintptr_t)mem + (i & 1) * 2 * K4) | WINDOW_RW;
	flight_tables = st.table_pages;
	flight = 0;
	flight_ap_done = flight_busy_during = 0;
	flight_calls = 0;
	flight_busy = HV_ERROR;
	status = uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &done);
	if (!EFI_ERROR(status))
		status = uefi_call_wrapper(mp->StartupThisAP, 7, mp, ap_during_map, 1, done, 0, NULL, NULL);
	if (!EFI_ERROR(status)) {
		window_enter(&w);
		flight = 1;
		r = hv_vm_map_space(flight_asid, w.va, 0, FLIGHT_PAGES * K4, HV_MEMORY_READ);
		flight = 2;
		window_leave(&w);
	}
	for (uint64_t t0 = rdtsc(); !EFI_ERROR(status) && !flight_ap_done && rdtsc() - t0 < FLIGHT_WAIT; )
		cpu_pause();
	tap_ok(r == HV_SUCCESS && translates(flight_asid, K4, (uintptr_t)mem + 2 * K4, K4, HV_MEMORY_READ) &&
	       translates(flight_asid, (FLIGHT_PAGES - 2) * K4, (uintptr_t)mem, K4, HV_MEMORY_READ),
	       "CPU 0 maps %u scattered pages, one run each (%x)", FLIGHT_PAGES, r);
	tap_ok(flight_busy_during && flight_busy == HV_BUSY,
	       "destroying that space from CPU 1 while the map runs is HV_BUSY (%x)", flight_busy);
	tap_ok(flight_calls >= 3,
	       "calls on the same VM from CPU 1 complete while CPU 0's map runs (%u of them)", flight_calls);
	tap_ok(hv_vm_space_destroy(flight_asid) == HV_SUCCESS, "once the map is done the space goes");
	if (done)
		uefi_call_wrapper(BS->CloseEvent, 1, done);
	window_close(&w);
}

void test_vm_api(const struct hvmetal_info *info, EFI_MP_SERVICES_PROTOCOL *mp, unsigned cpus)
{
	uint64_t baseline = pool_free_now();
	void *mem = 0;

	test_without_vm();
	tap_ok(hv_vm_create(HV_VM_DEFAULT) == HV_SUCCESS, "hv_vm_create(HV_VM_DEFAULT)");
	tap_ok(hv_vm_create(HV_VM_DEFAULT) == HV_BUSY, "a second hv_vm_create is HV_BUSY");
	tap_ok(hv_vm_allocate(&mem, 2 * MB2, HV_ALLOCATE_DEFAULT) == HV_SUCCESS && mem &&
	       !((uintptr_t)mem & 0xfff), "hv_vm_allocate gives 4 MiB of page-aligned memory");
	if (mem) {
		test_argument_checks(mem, info);
		test_large_pages(mem);
		test_undo_after_merge(mem, info);
		test_one_gib();
		test_spaces(mem);
		test_pool_exhaustion(mem);
		test_spaces_bounded_by_memory();
		if (mp && cpus > 1)
			test_map_concurrent(mp, mem);
	}
	tap_ok(hv_vm_destroy() == HV_SUCCESS && pool_free_now() == baseline,
	       "hv_vm_destroy returns hvmetal's pool to its baseline (%lu KiB free)", baseline >> 10);
	tap_ok(!mem || hv_vm_deallocate(mem, 2 * MB2) == HV_SUCCESS, "hv_vm_deallocate");
}
