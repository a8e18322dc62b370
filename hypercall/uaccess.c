#include "kernel/pool.h"
#include "kernel/string.h"
#include "uaccess.h"

#define MAX_PAGES	(UACCESS_MAX / PAGE_SIZE + 1)

static bool read_table(void *ctx, uint64_t gpa, uint64_t *val)
{
	const struct uaccess *ua = ctx;

	if (!memmap_is_cd_ram(ua->map, gpa))
		return false;
	*val = *(const uint64_t *)ua->phys(gpa);
	return true;
}

/* Translates every page of the range first: all or nothing. */
static int plan(const struct uaccess *ua, uint64_t gva, size_t n, unsigned access,
		uint64_t *gpa, size_t *npages)
{
	size_t count;

	if (n == 0 || n > UACCESS_MAX || gva + n < gva)
		return -1;
	/* Count pages, not addresses: the range may end in the top page of the address space. */
	count = ((gva & PAGE_MASK) + n + PAGE_MASK) / PAGE_SIZE;
	for (size_t i = 0; i < count; i++) {
		uint64_t va = i ? (gva & ~PAGE_MASK) + i * PAGE_SIZE : gva;
		struct guest_pt_walk w;

		if (guest_pt_translate(&ua->pg, read_table, (void *)ua, va, access | ua->access, &w) != GUEST_PT_OK ||
		    !memmap_is_cd_ram(ua->map, w.gpa))
			return -1;
		gpa[i] = w.gpa;
	}
	*npages = count;
	return 0;
}

static int copy(const struct uaccess *ua, uint64_t gva, uint8_t *buf, size_t n, unsigned access)
{
	bool out = access & GUEST_PT_WRITE;
	uint64_t gpa[MAX_PAGES];
	size_t npages;

	if (plan(ua, gva, n, access, gpa, &npages) < 0)
		return -1;
	for (size_t i = 0; i < npages && n; i++) {
		size_t chunk = PAGE_SIZE - (gpa[i] & PAGE_MASK);
		uint8_t *host = ua->phys(gpa[i]);

		chunk = chunk < n ? chunk : n;
		if (out)
			memcpy(host, buf, chunk);
		else
			memcpy(buf, host, chunk);
		buf += chunk;
		n -= chunk;
	}
	return 0;
}

int uaccess_translate(const struct uaccess *ua, uint64_t gva, uint64_t *gpa, uint64_t *extent)
{
	struct guest_pt_walk w;
	uint64_t size;

	if (guest_pt_translate(&ua->pg, read_table, (void *)ua, gva, ua->access, &w) != GUEST_PT_OK)
		return -1;
	/* Without paging the "page" is the rest of the 4 KiB page. */
	size = w.page_size ? w.page_size : PAGE_SIZE;
	*extent = size - (w.gpa & (size - 1));
	if (memmap_uniform_kind(ua->map, w.gpa & ~PAGE_MASK, *extent + (w.gpa & PAGE_MASK)) != MEMMAP_RAM ||
	    memmap_overlaps_hidden(ua->map, w.gpa & ~PAGE_MASK, *extent + (w.gpa & PAGE_MASK))) {
		/* Mixed: fall back to this page alone. */
		if (!memmap_is_cd_ram(ua->map, w.gpa))
			return -1;
		*extent = PAGE_SIZE - (w.gpa & PAGE_MASK);
	}
	*gpa = w.gpa;
	return 0;
}

int uaccess_copy_in(const struct uaccess *ua, void *dst, uint64_t gva, size_t n)
{
	return copy(ua, gva, dst, n, 0);
}

int uaccess_fetch(const struct uaccess *ua, void *dst, uint64_t gva, size_t n)
{
	return copy(ua, gva, dst, n, GUEST_PT_EXEC);
}

int uaccess_copy_out(const struct uaccess *ua, uint64_t gva, const void *src, size_t n)
{
	return copy(ua, gva, (uint8_t *)src, n, GUEST_PT_WRITE);
}
