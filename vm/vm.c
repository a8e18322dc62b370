#include <Hypervisor/hv_types.h>
#include "kernel/percpu.h"
#include "kernel/string.h"
#include "vapic.h"
#include "vcpu.h"
#include "vm.h"
#include "vmx/vmx_cpu.h"

#define VM_MITIGATIONS	(HV_VM_SPECIFY_MITIGATIONS | HV_VM_MITIGATION_A_ENABLE | \
			 HV_VM_MITIGATION_B_ENABLE | HV_VM_MITIGATION_C_ENABLE | \
			 HV_VM_MITIGATION_D_ENABLE | HV_VM_MITIGATION_E_ENABLE)
#define VM_OPTIONS_KNOWN (VM_MITIGATIONS | HV_VM_ACCEL_APIC)
#define SPACES_PER_PAGE	(PAGE_SIZE / sizeof(struct ept))

struct vm vms[VM_MAX];
static struct spinlock vm_table_lock;	/* slot allocation */
static struct pool *vm_pool;
static uint64_t vm_gpa_limit;
static unsigned vm_ept_leaves;		/* EPT_LEAF_*: the large pages the CPU's EPT has */
static uint64_t vm_generation;		/* makes handles of destroyed VMs stale */

void vm_init(struct pool *pool, uint64_t gpa_limit)
{
	vm_pool = pool;
	vm_gpa_limit = gpa_limit;
	vm_ept_leaves = (vmx_caps.ept_2m ? EPT_LEAF_2M : 0) | (vmx_caps.ept_1g ? EPT_LEAF_1G : 0);
}

/* The space table starts with one page: the default space and its neighbours. */
static struct ept **space_dir_new(void)
{
	struct ept **dir = pool_alloc_page(vm_pool);

	if (dir && !(dir[0] = pool_alloc_page(vm_pool))) {
		pool_free_pages(vm_pool, dir, 1);
		return NULL;
	}
	if (dir && ept_init(&dir[0][0], vm_pool, vm_gpa_limit, vm_ept_leaves) < 0) {
		pool_free_pages(vm_pool, dir[0], 1);
		pool_free_pages(vm_pool, dir, 1);
		return NULL;
	}
	return dir;
}

static void space_dir_free(struct ept **dir)
{
	for (unsigned p = 0; p < VM_SPACE_PAGES && dir[p]; p++) {
		for (unsigned i = 0; i < SPACES_PER_PAGE; i++)
			if (dir[p][i].pml4)
				ept_destroy(&dir[p][i]);
		pool_free_pages(vm_pool, dir[p], 1);
	}
	pool_free_pages(vm_pool, dir, 1);
}

hv_return_t vm_create(uint64_t options, uint64_t *handle)
{
	struct vm *vm = NULL;
	struct vapic *apic = NULL;
	struct ept **dir;

	if (options & ~(uint64_t)VM_OPTIONS_KNOWN)
		return HV_BAD_ARGUMENT;
	/*
	 * Apple does not say what mitigations A-E are; hvmetal applies none of its
	 * own choosing per VM (docs/security.md), so asking to specify them is refused.
	 */
	if (options & VM_MITIGATIONS)
		return HV_UNSUPPORTED;
	dir = space_dir_new();
	if (!dir)
		return HV_NO_RESOURCES;
	if (options & HV_VM_ACCEL_APIC) {
		apic = vapic_create();
		if (!apic) {
			space_dir_free(dir);
			return HV_NO_RESOURCES;
		}
	}
	spin_lock(&vm_table_lock);
	for (unsigned i = 0; i < VM_MAX && !vm; i++)
		if (!vms[i].handle)
			vm = &vms[i];
	if (vm) {
		/* vm_get looks without the table lock: the VM is whole before its handle shows. */
		spin_lock(&vm->lock);
		vm->slot = (uint32_t)(vm - vms);
		vm->options = options;
		vm->space_dir = dir;
		vm->nspaces = 1;
		vm->space_hint = 1;
		vm->nvcpus = 0;
		vm->apic_access_page = NULL;
		vm->apic = apic;
		if (apic)
			apic->vm = vm;
		vm->nbusy = 0;
		vm->handle = (++vm_generation << 8) | (vm->slot + 1);
		*handle = vm->handle;
		spin_unlock(&vm->lock);
	}
	spin_unlock(&vm_table_lock);
	if (!vm) {
		space_dir_free(dir);
		if (apic)
			vapic_destroy(apic);
		return HV_NO_RESOURCES;
	}
	return HV_SUCCESS;
}

hv_return_t vm_destroy(uint64_t handle)
{
	struct vm *vm = vm_get(handle);
	struct ept **dir;
	struct vapic *intr;
	void *apic;

	if (!vm)
		return HV_BAD_ARGUMENT;
	if (vm->nvcpus || vm->nbusy || __atomic_load_n(&vm->holds, __ATOMIC_ACQUIRE)) {
		vm_put(vm);
		return HV_BUSY;	/* Apple: destroy the vCPUs first; or a call is still at work */
	}
	/* Under the lock every call still using the VM is done and no new one finds it;
	 * the slot may be reused as soon as the lock drops, so its tables leave first. */
	dir = vm->space_dir;
	vm->space_dir = NULL;
	vm->nspaces = 0;
	apic = vm->apic_access_page;
	vm->apic_access_page = NULL;
	intr = vm->apic;
	vm->apic = NULL;
	vcpu_structs_free(vm);
	vm->handle = 0;
	vm_put(vm);
	space_dir_free(dir);
	if (apic)	/* no EPT maps it any more */
		pool_free_pages(vm_pool, apic, 1);
	if (intr)	/* no vCPU, no call uses it (nvcpus and holds were 0) */
		vapic_destroy(intr);
	return HV_SUCCESS;
}

/*
 * handle = generation << 8 | slot + 1, never 0. Lock-free lookup, then the VM's
 * own lock; a stale or unknown handle finds nothing.
 */
struct vm *vm_get(uint64_t handle)
{
	uint64_t slot = (handle & 0xff) - 1;
	struct vm *vm;

	if (slot >= VM_MAX)
		return NULL;
	vm = &vms[slot];
	spin_lock(&vm->lock);
	if (vm->handle == handle)
		return vm;
	spin_unlock(&vm->lock);
	return NULL;
}

void vm_put(struct vm *vm)
{
	spin_unlock(&vm->lock);
}

void vm_lock(struct vm *vm)
{
	spin_lock(&vm->lock);
}

void vm_space_hold(struct vm *vm, struct ept *e)
{
	vm->busy[this_cpu()->index] = e;
	vm->nbusy++;
}

void vm_space_release(struct vm *vm)
{
	vm->busy[this_cpu()->index] = NULL;
	vm->nbusy--;
}

static bool vm_space_busy(const struct vm *vm, const struct ept *e)
{
	for (unsigned i = 0; vm->nbusy && i < HV_MAX_CPUS; i++)
		if (vm->busy[i] == e)
			return true;
	return false;
}

/* The slot of asid, its page made on demand; NULL past the directory or out of pool. */
static struct ept *space_slot(struct vm *vm, uint32_t asid, bool make)
{
	uint32_t page = asid / SPACES_PER_PAGE;

	if (page >= VM_SPACE_PAGES)
		return NULL;
	if (!vm->space_dir[page] && (!make || !(vm->space_dir[page] = pool_alloc_page(vm_pool))))
		return NULL;
	return &vm->space_dir[page][asid % SPACES_PER_PAGE];
}

hv_return_t vm_space_create(struct vm *vm, uint32_t *asid)
{
	uint32_t i = vm->space_hint;
	struct ept *e;

	while ((e = space_slot(vm, i, true)) && e->pml4)
		i++;
	if (!e || ept_init(e, vm_pool, vm_gpa_limit, vm_ept_leaves) < 0)
		return HV_NO_RESOURCES;
	vm->nspaces++;
	vm->space_hint = i + 1;
	*asid = i;
	return HV_SUCCESS;
}

hv_return_t vm_space_destroy(struct vm *vm, uint32_t asid)
{
	struct ept *e = vm_space(vm, asid);

	/* The default space lives as long as the VM. */
	if (asid == 0 || !e)
		return HV_BAD_ARGUMENT;
	for (unsigned i = 0; i < VM_VCPUS_MAX; i++)
		if (vm->vcpus[i] && vm->vcpus[i]->asid == asid)
			return HV_BUSY;
	if (vm_space_busy(vm, e))
		return HV_BUSY;	/* a map, unmap or protect on another CPU is still at work */
	ept_destroy(e);
	memset(e, 0, sizeof(*e));
	vm->nspaces--;
	if (asid < vm->space_hint)
		vm->space_hint = asid;
	return HV_SUCCESS;
}

struct ept *vm_space(struct vm *vm, uint32_t asid)
{
	struct ept *e = space_slot(vm, asid, false);

	return e && e->pml4 ? e : NULL;
}

uint64_t vm_table_pages(const struct vm *vm)
{
	uint64_t n = 0;

	for (unsigned p = 0; p < VM_SPACE_PAGES && vm->space_dir[p]; p++)
		for (unsigned i = 0; i < SPACES_PER_PAGE; i++)
			n += vm->space_dir[p][i].table_pages;
	return n;
}

uint64_t vm_spaces_max(void)
{
	uint64_t n = pool_total_bytes(vm_pool) / (PAGE_SIZE + sizeof(struct ept));

	return n < VM_SPACE_PAGES * SPACES_PER_PAGE ? n : VM_SPACE_PAGES * SPACES_PER_PAGE;
}
