// SPDX-License-Identifier: GPL-2.0
/*
 * VMs of an open /dev/hvmetal and their guest memory.
 *
 * hvmetal maps whatever physical page backs an address at the moment of VM_MAP and
 * keeps it mapped until an unmap: the driver pins the process's pages first
 * (FOLL_LONGTERM) and keeps them pinned, per (address space, guest page), until
 * hvmetal no longer maps them (VM_UNMAP of the range, VM_SPACE_DESTROY, VM_DESTROY,
 * or the file's release). hvmetal is handed a kernel mapping (vmap) of exactly the
 * pinned pages rather than the process's address: the process could otherwise swap
 * a page under its own address (MADV_DONTNEED, then touch it) between the pin and
 * hvmetal's page-table walk, and hvmetal would map a page nobody holds.
 */
#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <Hypervisor/hv_types.h>
#include "hvm.h"

/* A map goes to hvmetal in pieces of at most 1 GiB, aligned on the guest side like
 * EPT's largest page: large pages survive, and no one hypercall runs for long. */
#define HVM_MAP_CHUNK		(1ull << 30)
#define HVM_GPA_LIMIT		(1ull << (HVM_GFN_BITS + PAGE_SHIFT))
#define HVM_GFN_MASK		((1ul << HVM_GFN_BITS) - 1)

static unsigned long hvm_pin_index(u64 asid, u64 gpa)
{
	return (unsigned long)asid << HVM_GFN_BITS | gpa >> PAGE_SHIFT;
}

/* What every memory call of docs/abi.md needs, checked before anything is pinned. */
static bool hvm_range_ok(u64 asid, u64 gpa, u64 size)
{
	return asid <= HVM_ASID_MAX && size && !((gpa | size) & ~PAGE_MASK) &&
	       gpa + size > gpa && gpa + size <= HVM_GPA_LIMIT;
}

static void hvm_vm_free(struct kref *ref)
{
	struct hvm_vm *vm = container_of(ref, struct hvm_vm, ref);

	/* Empty unless hvmetal kept the VM: then its pages stay pinned for good. */
	xa_destroy(&vm->pins);
	kfree(vm);
}

/* The VM of this file named handle, referenced; NULL when the file has no such VM. */
struct hvm_vm *hvm_vm_get(struct hvm_file *f, u64 handle)
{
	struct hvm_vm *vm, *found = NULL;

	mutex_lock(&f->lock);
	list_for_each_entry(vm, &f->vms, node) {
		if (vm->handle == handle) {
			kref_get(&vm->ref);
			found = vm;
			break;
		}
	}
	mutex_unlock(&f->lock);
	return found;
}

void hvm_vm_put(struct hvm_vm *vm)
{
	kref_put(&vm->ref, hvm_vm_free);
}

hv_return_t hvm_vm_create(struct hvm_file *f, struct hvm_regs *r)
{
	struct hvm_vm *vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	hv_return_t res;

	if (!vm)
		return HV_NO_RESOURCES;
	kref_init(&vm->ref);
	mutex_init(&vm->lock);
	spin_lock_init(&vm->vcpu_lock);
	xa_init(&vm->pins);
	hvm_vmcall(r);
	res = (hv_return_t)r->rax;
	if (res != HV_SUCCESS) {
		kfree(vm);
		return res;
	}
	vm->handle = r->rdx;
	mutex_lock(&f->lock);
	list_add_tail(&vm->node, &f->vms);
	mutex_unlock(&f->lock);
	atomic_long_inc(&hvm_stats.vms);
	return HV_SUCCESS;
}

/* Unpins and forgets pins first..last: hvmetal maps none of them any more. */
static void hvm_unpin(struct hvm_vm *vm, unsigned long first, unsigned long last)
{
	unsigned long index, n = 0;
	struct page *page;

	lockdep_assert_held(&vm->lock);
	xa_for_each_range(&vm->pins, index, page, first, last) {
		bool dirty = xa_get_mark(&vm->pins, index, HVM_PIN_WRITABLE);

		xa_erase(&vm->pins, index);
		unpin_user_pages_dirty_lock(&page, 1, dirty);
		if (!(++n & 1023))
			cond_resched();
	}
	atomic_long_sub(n, &hvm_stats.pinned_pages);
}

/* Called with the VM's lock; hvm_vm_release's and a map's undo share it. */
static hv_return_t hvm_unmap_locked(struct hvm_vm *vm, u64 asid, u64 gpa, u64 size)
{
	hv_return_t res = hvm_call(HVMETAL_HC_VM_UNMAP, vm->handle, asid, gpa, size, NULL);

	if (res == HV_SUCCESS)
		hvm_unpin(vm, hvm_pin_index(asid, gpa), hvm_pin_index(asid, gpa + size - 1));
	return res;
}

/*
 * VCPU_APIC_LSC with an entry: hvmetal keeps the physical pages of the entry's
 * code pages and compares their bytes at every hit, so those pages stay this
 * process's (pinned) until the VM goes; another process's memory could
 * otherwise take their place and answer those comparisons. hvmetal gets the
 * driver's copy of the entry with the pages' kernel addresses: a thread cannot
 * change what was pinned between the pin and the call.
 */
hv_return_t hvm_vm_lsc_enter(struct hvm_vm *vm, struct hvm_regs *r)
{
	struct hvmetal_lsc_entry e;
	hv_return_t res = HV_SUCCESS;
	struct page *page;
	unsigned int i;

	if (!r->rdx)
		return hvm_vcpu_call(vm, (unsigned int)r->rsi, r);	/* invalidate */
	if (copy_from_user(&e, (const void __user *)(uintptr_t)r->rdx, sizeof(e)) || e.count > 2)
		return HV_BAD_ARGUMENT;
	mutex_lock(&vm->lock);
	for (i = 0; i < e.count && res == HV_SUCCESS; i++) {
		unsigned long index;

		if (e.uva[i] & ~PAGE_MASK) {
			res = HV_BAD_ARGUMENT;
		} else if (vm->lsc_pins >= HVM_LSC_PINS_MAX) {
			res = HV_NO_RESOURCES;
		} else if (pin_user_pages_fast(e.uva[i], 1, FOLL_LONGTERM, &page) != 1) {
			res = HV_BAD_ARGUMENT;
		} else {
			index = HVM_LSC_PIN_BASE | page_to_pfn(page);
			if (xa_load(&vm->pins, index)) {
				unpin_user_page(page);	/* pinned already */
			} else if (xa_err(xa_store(&vm->pins, index, page, GFP_KERNEL))) {
				unpin_user_page(page);
				res = HV_NO_RESOURCES;
			} else {
				vm->lsc_pins++;
				atomic_long_inc(&hvm_stats.pinned_pages);
			}
			e.uva[i] = (u64)(uintptr_t)page_address(page);
		}
	}
	mutex_unlock(&vm->lock);
	if (res != HV_SUCCESS)
		return res;
	/* A kernel buffer and kernel addresses: walked as CPL 0, so no HVMETAL_HC_USER. */
	r->rax &= ~(u64)HVMETAL_HC_USER;
	r->rdx = (u64)(uintptr_t)&e;
	return hvm_vcpu_call(vm, (unsigned int)r->rsi, r);
}

hv_return_t hvm_vm_destroy(struct hvm_file *f, struct hvm_vm *vm, struct hvm_regs *r)
{
	hv_return_t res = HV_BAD_ARGUMENT;

	/* hvmetal refuses while the VM has vCPUs (HV_BUSY): they keep their bookkeeping. */
	mutex_lock(&vm->lock);
	if (!vm->dead) {
		hvm_vmcall(r);
		res = (hv_return_t)r->rax;
	}
	if (res == HV_SUCCESS) {
		vm->dead = true;
		hvm_unpin(vm, 0, ULONG_MAX);
	}
	mutex_unlock(&vm->lock);
	if (res != HV_SUCCESS)
		return res;
	mutex_lock(&f->lock);
	list_del(&vm->node);
	mutex_unlock(&f->lock);
	atomic_long_dec(&hvm_stats.vms);
	hvm_vm_put(vm);		/* the file's reference; the caller still holds one */
	return HV_SUCCESS;
}

/*
 * Pins npages at uva. For writing whenever the process may write there, so that
 * the guest and the process share the page (no copy-on-write between them) and
 * hv_vm_protect can give WRITE later; read-only only where the memory is.
 */
static hv_return_t hvm_pin(u64 uva, unsigned long npages, u64 flags, struct page **pages,
			   bool *writable)
{
	int n = pin_user_pages_fast(uva, npages, FOLL_LONGTERM | FOLL_WRITE, pages);

	*writable = true;
	if (n > 0 && n < npages)
		unpin_user_pages(pages, n);
	if (n != npages && n != -ENOMEM && !(flags & HV_MEMORY_WRITE)) {
		*writable = false;
		n = pin_user_pages_fast(uva, npages, FOLL_LONGTERM, pages);
		if (n > 0 && n < npages)
			unpin_user_pages(pages, n);
	}
	if (n == npages)
		return HV_SUCCESS;
	return n == -ENOMEM ? HV_NO_RESOURCES : HV_BAD_ARGUMENT;
}

/* Reserves pins first..first + n - 1 so that recording them after the map cannot fail. */
static hv_return_t hvm_reserve(struct hvm_vm *vm, unsigned long first, unsigned long n)
{
	unsigned long i;
	int err = 0;

	for (i = 0; i < n; i++) {
		err = xa_insert(&vm->pins, first + i, NULL, GFP_KERNEL_ACCOUNT);
		if (err)
			break;
	}
	if (!err)
		return HV_SUCCESS;
	while (i--)
		xa_release(&vm->pins, first + i);
	return err == -ENOMEM ? HV_NO_RESOURCES : HV_BAD_ARGUMENT;
}

/* One piece of a map (at most HVM_MAP_CHUNK): pin, reserve, map through a vmap, record. */
static hv_return_t hvm_map_chunk(struct hvm_vm *vm, u64 asid, u64 uva, u64 gpa, u64 size,
				 u64 flags)
{
	unsigned long npages = size >> PAGE_SHIFT, first = hvm_pin_index(asid, gpa), i;
	struct hvm_regs r = { .rax = HVMETAL_HC_VM_MAP, .rdi = vm->handle, .rsi = asid,
			      .rcx = gpa, .r8 = size, .r9 = flags };
	struct page **pages;
	hv_return_t res;
	bool writable;
	void *kva;

	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return HV_NO_RESOURCES;
	res = hvm_pin(uva, npages, flags, pages, &writable);
	if (res != HV_SUCCESS)
		goto out_free;
	res = hvm_reserve(vm, first, npages);
	if (res != HV_SUCCESS)
		goto out_unpin;
	kva = vmap(pages, npages, VM_MAP, PAGE_KERNEL);
	if (!kva) {
		res = HV_NO_RESOURCES;
		goto out_release;
	}
	/* A kernel address: walked as CPL 0, so no HVMETAL_HC_USER. */
	r.rdx = (u64)(uintptr_t)kva;
	hvm_vmcall(&r);
	res = (hv_return_t)r.rax;
	vunmap(kva);
	if (res != HV_SUCCESS)
		goto out_release;
	for (i = 0; i < npages; i++) {
		WARN_ON(xa_err(xa_store(&vm->pins, first + i, pages[i], GFP_KERNEL_ACCOUNT)));
		if (writable)
			xa_set_mark(&vm->pins, first + i, HVM_PIN_WRITABLE);
	}
	atomic_long_add(npages, &hvm_stats.pinned_pages);
	kvfree(pages);
	return HV_SUCCESS;

out_release:
	for (i = 0; i < npages; i++)
		xa_release(&vm->pins, first + i);
out_unpin:
	unpin_user_pages(pages, npages);
out_free:
	kvfree(pages);
	return res;
}

/* VM_MAP: RDI vm, RSI asid, RDX uva, RCX gpa, R8 size, R9 flags. */
hv_return_t hvm_vm_map(struct hvm_vm *vm, struct hvm_regs *r)
{
	u64 asid = r->rsi, uva = r->rdx, gpa = r->rcx, size = r->r8, flags = r->r9, done = 0;
	unsigned long index = hvm_pin_index(asid, gpa);
	hv_return_t res = HV_SUCCESS;

	if (!hvm_range_ok(asid, gpa, size) || (uva & ~PAGE_MASK) ||
	    !access_ok((void __user *)(uintptr_t)uva, size))
		return HV_BAD_ARGUMENT;
	mutex_lock(&vm->lock);
	/* Mapping over a mapping is HV_BAD_ARGUMENT (docs/abi.md): nothing gets pinned twice. */
	if (vm->dead || xa_find(&vm->pins, &index, hvm_pin_index(asid, gpa + size - 1), XA_PRESENT))
		res = HV_BAD_ARGUMENT;
	while (res == HV_SUCCESS && done < size) {
		u64 at = gpa + done;
		u64 n = min(size - done, HVM_MAP_CHUNK - (at & (HVM_MAP_CHUNK - 1)));

		res = hvm_map_chunk(vm, asid, uva + done, at, n, flags);
		if (res == HV_SUCCESS)
			done += n;
		if (fatal_signal_pending(current) && done < size)
			res = HV_ERROR;
		cond_resched();
	}
	/* A failed map leaves nothing mapped: the pieces already in go out again. */
	if (res != HV_SUCCESS && done && hvm_unmap_locked(vm, asid, gpa, done) != HV_SUCCESS)
		pr_warn("hvmetal: VM 0x%llx: a failed map's first 0x%llx bytes at 0x%llx stay mapped\n",
			vm->handle, done, gpa);
	mutex_unlock(&vm->lock);
	return res;
}

/* VM_UNMAP: RDI vm, RSI asid, RDX gpa, RCX size. */
hv_return_t hvm_vm_unmap(struct hvm_vm *vm, struct hvm_regs *r)
{
	u64 asid = r->rsi, gpa = r->rdx, size = r->rcx;
	hv_return_t res = HV_BAD_ARGUMENT;

	if (!hvm_range_ok(asid, gpa, size))
		return HV_BAD_ARGUMENT;
	mutex_lock(&vm->lock);
	if (!vm->dead) {
		hvm_vmcall(r);
		res = (hv_return_t)r->rax;
	}
	/* hvmetal has dropped every CPU's cached translation before returning. */
	if (res == HV_SUCCESS)
		hvm_unpin(vm, hvm_pin_index(asid, gpa), hvm_pin_index(asid, gpa + size - 1));
	mutex_unlock(&vm->lock);
	return res;
}

/* True when every pinned page in first..last was pinned for writing. */
static bool hvm_all_writable(struct hvm_vm *vm, unsigned long first, unsigned long last)
{
	unsigned long index;
	struct page *page;

	xa_for_each_range(&vm->pins, index, page, first, last)
		if (!xa_get_mark(&vm->pins, index, HVM_PIN_WRITABLE))
			return false;
	return true;
}

/* VM_PROTECT: RDI vm, RSI asid, RDX gpa, RCX size, R8 flags. */
hv_return_t hvm_vm_protect(struct hvm_vm *vm, struct hvm_regs *r)
{
	u64 asid = r->rsi, gpa = r->rdx, size = r->rcx, flags = r->r8;
	hv_return_t res = HV_BAD_ARGUMENT;

	if (!hvm_range_ok(asid, gpa, size))
		return HV_BAD_ARGUMENT;
	mutex_lock(&vm->lock);
	/* WRITE only on memory the process may write (read-only memory is pinned as such). */
	if (!vm->dead && (!(flags & HV_MEMORY_WRITE) ||
			  hvm_all_writable(vm, hvm_pin_index(asid, gpa),
					   hvm_pin_index(asid, gpa + size - 1)))) {
		hvm_vmcall(r);
		res = (hv_return_t)r->rax;
	}
	mutex_unlock(&vm->lock);
	return res;
}

/* VM_SPACE_DESTROY: RDI vm, RSI asid. */
hv_return_t hvm_vm_space_destroy(struct hvm_vm *vm, struct hvm_regs *r)
{
	u64 asid = r->rsi;
	hv_return_t res = HV_BAD_ARGUMENT;

	if (asid > HVM_ASID_MAX)
		return HV_BAD_ARGUMENT;
	mutex_lock(&vm->lock);
	if (!vm->dead) {
		hvm_vmcall(r);
		res = (hv_return_t)r->rax;
	}
	if (res == HV_SUCCESS)
		hvm_unpin(vm, hvm_pin_index(asid, 0), hvm_pin_index(asid, 0) | HVM_GFN_MASK);
	mutex_unlock(&vm->lock);
	return res;
}

/*
 * The file is gone (close, or the process died): its vCPUs, then the VM, then the
 * pins. What hvmetal will not destroy keeps its pages pinned (it may still map them).
 */
void hvm_vm_release(struct hvm_vm *vm)
{
	hv_return_t res = HV_ERROR;
	unsigned int tries;

	mutex_lock(&vm->lock);
	if (hvm_vcpus_release(vm)) {
		for (tries = 0; tries < 1000; tries++) {
			res = hvm_call(HVMETAL_HC_VM_DESTROY, vm->handle, 0, 0, 0, NULL);
			if (res != HV_BUSY)
				break;
			msleep(1);
		}
	}
	if (res == HV_SUCCESS)
		hvm_unpin(vm, 0, ULONG_MAX);
	else
		pr_err("hvmetal: VM 0x%llx outlives its file (0x%x): its pages stay pinned\n",
		       vm->handle, res);
	vm->dead = true;
	mutex_unlock(&vm->lock);
	atomic_long_dec(&hvm_stats.vms);
}
