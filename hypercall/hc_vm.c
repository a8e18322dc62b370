#include <Hypervisor/hv_types.h>
#include <hvmetal/abi.h>
#include "hc_vm.h"
#include "kernel/host.h"
#include "vm/vcpu.h"
#include "vm/vm.h"

#define HV_PERMS	(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)

/* Checks flags for map/protect and gives the EPT permissions. */
static hv_return_t ept_perms(uint64_t flags, unsigned *perms)
{
	/* User-execute needs mode-based execute control and MAXPROT bookkeeping: not yet. */
	if (flags & (HV_MEMORY_UEXEC | HV_MEMORY_MAXPROT | HV_MEMORY_MAXPROT_READ |
		     HV_MEMORY_MAXPROT_WRITE | HV_MEMORY_MAXPROT_EXEC | HV_MEMORY_MAXPROT_UEXEC))
		return HV_UNSUPPORTED;
	/* EPT cannot express write without read. */
	if ((flags & ~(uint64_t)HV_PERMS) || !(flags & HV_PERMS) ||
	    ((flags & HV_MEMORY_WRITE) && !(flags & HV_MEMORY_READ)))
		return HV_BAD_ARGUMENT;
	*perms = (flags & HV_MEMORY_READ ? EPT_PERM_R : 0) | (flags & HV_MEMORY_WRITE ? EPT_PERM_W : 0) |
		 (flags & HV_MEMORY_EXEC ? EPT_PERM_X : 0);
	return HV_SUCCESS;
}

static hv_return_t from_ept_error(int err)
{
	return err == -EPT_ENOMEM ? HV_NO_RESOURCES : HV_BAD_ARGUMENT;
}

/* Page-aligned, non-empty, no wrap-around; the space's own limit is ept's to check. */
static bool range_ok(uint64_t gpa, uint64_t size)
{
	return size && !((gpa | size) & PAGE_MASK) && gpa + size > gpa;
}

hv_return_t hc_capability(struct hcall *c)
{
	switch (c->gpr->rdi) {
	case HV_CAP_VCPUMAX:
		c->gpr->rdx = VM_VCPUS_MAX;
		return HV_SUCCESS;
	case HV_CAP_ADDRSPACEMAX:
		c->gpr->rdx = vm_spaces_max();
		return HV_SUCCESS;
	default:
		return HV_BAD_ARGUMENT;
	}
}

hv_return_t hc_vm_create(struct hcall *c)
{
	uint64_t handle;
	hv_return_t r = vm_create(c->gpr->rdi, &handle);

	if (r == HV_SUCCESS)
		c->gpr->rdx = handle;
	return r;
}

hv_return_t hc_vm_destroy(struct hcall *c)
{
	return vm_destroy(c->gpr->rdi);
}

hv_return_t hc_vm_space_create(struct hcall *c)
{
	struct vm *vm = vm_get(c->gpr->rdi);
	uint32_t asid;
	hv_return_t r;

	if (!vm)
		return HV_BAD_ARGUMENT;
	r = vm_space_create(vm, &asid);
	vm_put(vm);
	if (r == HV_SUCCESS)
		c->gpr->rdx = asid;
	return r;
}

hv_return_t hc_vm_space_destroy(struct hcall *c)
{
	struct vm *vm = vm_get(c->gpr->rdi);
	hv_return_t r;

	if (!vm)
		return HV_BAD_ARGUMENT;
	r = c->gpr->rsi >> 32 ? HV_BAD_ARGUMENT : vm_space_destroy(vm, (uint32_t)c->gpr->rsi);
	vm_put(vm);
	return r;
}

/* One step of a map, under the VM's lock: the EPT change itself is short. */
static int map_run(struct vm *vm, struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t len,
		   unsigned perms)
{
	int err;

	vm_lock(vm);
	err = ept_map(e, gpa, hpa, len, perms);
	vm_put(vm);
	return err;
}

/*
 * Maps the caller's pages [uva, uva + size) at gpa: each page is found through the
 * caller's page tables and must be its RAM; host-contiguous runs go to the EPT in
 * one piece so that large pages can form.  On any failure what was mapped is undone.
 * Runs with space e held and the VM unlocked: the page-by-page work takes no lock,
 * each run's EPT change takes the VM's lock alone.
 */
static hv_return_t map_pages(const struct hcall *c, struct vm *vm, struct ept *e, uint64_t uva,
			     uint64_t gpa, uint64_t size, unsigned perms)
{
	struct uaccess ua = hypercall_uaccess(hcall_access(c));
	uint64_t run_gpa = gpa, run_hpa = 0, run_len = 0, off, *reserve = NULL;
	int err = 0;

	for (off = 0; off < size && !err; ) {
		uint64_t hpa, extent;

		if (uaccess_translate(&ua, uva + off, &hpa, &extent) < 0) {
			err = -EPT_EINVAL;
			break;
		}
		extent = extent < size - off ? extent : size - off;
		if (run_len && hpa == run_hpa + run_len) {
			run_len += extent;
		} else {
			/*
			 * More than one run: undoing them may split a large page they
			 * formed with a mapping below gpa (1 GiB to 4 KiB: two tables),
			 * and one above, which another CPU's map may have made meanwhile.
			 */
			if (run_len && run_gpa == gpa)
				err = ept_reserve(e, &reserve, 4);
			if (run_len && !err)
				err = map_run(vm, e, run_gpa, run_hpa, run_len, perms);
			run_gpa = gpa + off;
			run_hpa = hpa;
			run_len = extent;
		}
		off += extent;
	}
	if (!err)
		err = map_run(vm, e, run_gpa, run_hpa, run_len, perms);
	/* Everything below the failed run is ours: take it back. */
	if (err && run_gpa > gpa) {
		vm_lock(vm);
		ept_unmap_reserved(e, gpa, run_gpa - gpa, &reserve);
		vm_put(vm);
	}
	ept_release(e, &reserve);
	return err ? from_ept_error(err) : HV_SUCCESS;
}

/* The space a call names (RDI = vm, RSI = asid), with its VM locked in *vm; NULL if either is unknown. */
static struct ept *get_space(const struct hcall *c, struct vm **vm)
{
	struct ept *e;

	*vm = vm_get(c->gpr->rdi);
	if (!*vm)
		return NULL;
	e = c->gpr->rsi >> 32 ? NULL : vm_space(*vm, (uint32_t)c->gpr->rsi);
	if (!e)
		vm_put(*vm);
	return e;
}

static hv_return_t ept_result(int err)
{
	return err ? from_ept_error(err) : HV_SUCCESS;
}

/*
 * Ends a call that held space e with the VM unlocked.  If the space changed
 * since generation gen (translations went away or narrowed, or tables left the
 * tree), every vCPU running on it elsewhere drops what it cached, with no lock
 * held; then, locked, the retired tables go back to the pool and the hold ends.
 */
static void space_done(struct vm *vm, struct ept *e, uint64_t gen)
{
	uint64_t synced = gen;

	if (__atomic_load_n(&e->generation, __ATOMIC_ACQUIRE) != gen)
		synced = vcpu_sync_space(vm, e);
	vm_lock(vm);
	if (synced != gen)
		ept_free_pending(e, synced);
	vm_space_release(vm);
	vm_put(vm);
}

/* After a change to e made under the locked VM's lock, from generation gen: unlocks. */
static hv_return_t change_done(struct vm *vm, struct ept *e, uint64_t gen, hv_return_t r)
{
	if (e->generation == gen) {
		vm_put(vm);	/* nothing any other CPU may cache went away */
		return r;
	}
	vm_space_hold(vm, e);
	vm_put(vm);
	space_done(vm, e, gen);
	return r;
}

hv_return_t hc_vm_map(struct hcall *c)
{
	uint64_t uva = c->gpr->rdx, gpa = c->gpr->rcx, size = c->gpr->r8, gen;
	struct vm *vm;
	struct ept *e;
	unsigned perms;
	hv_return_t r = ept_perms(c->gpr->r9, &perms);

	if (r != HV_SUCCESS)
		return r;
	if (!range_ok(gpa, size) || (uva & PAGE_MASK) || uva + size < uva ||
	    !(e = get_space(c, &vm)))
		return HV_BAD_ARGUMENT;
	/* Refuse an overlap before anything changes: a failure later then only undoes
	 * runs of this call. */
	if (!ept_range_unmapped(e, gpa, size)) {
		vm_put(vm);
		return HV_BAD_ARGUMENT;
	}
	gen = e->generation;
	vm_space_hold(vm, e);
	vm_put(vm);
	r = map_pages(c, vm, e, uva, gpa, size, perms);
	space_done(vm, e, gen);	/* a failed map's undo, a merge or a split */
	return r;
}

hv_return_t hc_vm_unmap(struct hcall *c)
{
	struct vm *vm;
	struct ept *e;
	uint64_t gen;

	if (!range_ok(c->gpr->rdx, c->gpr->rcx) || !(e = get_space(c, &vm)))
		return HV_BAD_ARGUMENT;
	gen = e->generation;
	return change_done(vm, e, gen, ept_result(ept_unmap(e, c->gpr->rdx, c->gpr->rcx)));
}

hv_return_t hc_vm_protect(struct hcall *c)
{
	struct vm *vm;
	struct ept *e;
	uint64_t gen;
	unsigned perms;
	hv_return_t r = ept_perms(c->gpr->r8, &perms);

	if (r != HV_SUCCESS)
		return r;
	if (!range_ok(c->gpr->rdx, c->gpr->rcx) || !(e = get_space(c, &vm)))
		return HV_BAD_ARGUMENT;
	gen = e->generation;
	return change_done(vm, e, gen, ept_result(ept_protect(e, c->gpr->rdx, c->gpr->rcx, perms)));
}

hv_return_t hc_vm_translate(struct hcall *c)
{
	struct hvmetal_translation t = { 0 };
	struct vm *vm;
	struct ept *e = get_space(c, &vm);
	unsigned perms = 0;
	int found;

	if (!e)
		return HV_BAD_ARGUMENT;
	found = ept_lookup(e, c->gpr->rdx, &t.hpa, &perms, &t.page_size);
	vm_put(vm);
	if (found < 0)
		return HV_BAD_ARGUMENT;
	t.flags = (perms & EPT_PERM_R ? HV_MEMORY_READ : 0) | (perms & EPT_PERM_W ? HV_MEMORY_WRITE : 0) |
		  (perms & EPT_PERM_X ? HV_MEMORY_EXEC : 0);
	return hypercall_copy_out(c, c->gpr->rcx, &t, sizeof(t));
}

hv_return_t hc_vm_stats(struct hcall *c)
{
	struct hvmetal_vm_stats st = { 0 };
	struct vm *vm = vm_get(c->gpr->rdi);

	if (!vm)
		return HV_BAD_ARGUMENT;
	st.spaces = vm->nspaces;
	st.table_pages = vm_table_pages(vm);
	vm_put(vm);
	st.pool_free = pool_free_bytes(&host_pool);
	return hypercall_copy_out(c, c->gpr->rsi, &st, sizeof(st));
}
