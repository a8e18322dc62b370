#include <efi.h>
#include <efilib.h>
#include "kernel/cpu.h"
#include "window.h"

#define K4	4096ull

int window_open(struct window *w, uint64_t pages)
{
	uint64_t pts = (pages + 511) / 512, *pml4, *pdpt, *pd, old = read_cr3() & ~0xfffull;
	unsigned slot = 0;

	if (!pages || pts > 512)
		return -1;
	w->table_pages = 3 + pts;
	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
					w->table_pages, &w->tables)))
		return -1;
	pml4 = (uint64_t *)(uintptr_t)w->tables;
	pdpt = pml4 + 512;
	pd = pdpt + 512;
	w->pte = pd + 512;
	CopyMem(pml4, (void *)(uintptr_t)old, K4);
	for (unsigned i = 1; i < 256 && !slot; i++)
		if (!(pml4[i] & 1))
			slot = i;
	if (!slot) {
		window_close(w);
		return -1;
	}
	ZeroMem(pdpt, (2 + pts) * K4);
	pml4[slot] = (uintptr_t)pdpt | WINDOW_RW;
	pdpt[0] = (uintptr_t)pd | WINDOW_RW;
	for (uint64_t i = 0; i < pts; i++)
		pd[i] = (uintptr_t)(w->pte + i * 512) | WINDOW_RW;
	w->va = (void *)((uint64_t)slot << 39);
	return 0;
}

void window_enter(struct window *w)
{
	w->old_cr3 = read_cr3();
	__asm__ volatile("pushfq; pop %0; cli" : "=r"(w->flags) : : "memory");
	write_cr3((uintptr_t)w->tables);
}

void window_leave(struct window *w)
{
	write_cr3(w->old_cr3);
	__asm__ volatile("push %0; popfq" : : "r"(w->flags) : "memory", "cc");
}

void window_close(struct window *w)
{
	uefi_call_wrapper(BS->FreePages, 2, w->tables, w->table_pages);
}
