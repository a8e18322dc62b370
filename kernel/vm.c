#include <Hypervisor/hv_types.h>
#include "string.h"
#include "vm.h"

#define VM_OPTIONS_KNOWN (HV_VM_SPECIFY_MITIGATIONS | HV_VM_MITIGATION_A_ENABLE | \
			  HV_VM_MITIGATION_B_ENABLE | HV_VM_MITIGATION_C_ENABLE | \
			  HV_VM_MITIGATION_D_ENABLE | HV_VM_MITIGATION_E_ENABLE | HV_VM_ACCEL_APIC)
#define SPACES_PER_PAGE	(PAGE_SIZE / sizeof(struct ept))

static struct vm vms[VM_MAX];
static struct spinlock vm_table_lock;	/* slot allocation and handles */
static struct pool *vm_pool;
static uint64_t vm_gpa_limit;
static uint64_t vm_generation;		/* makes handles of destroyed VMs stale */

void vm_init(struct pool *pool, uint64_t gpa_limit)
{
	vm_pool = pool;
	vm_gpa_limit = gpa_limit;
}

/* handle = generation << 8 | slot + 1: never 0, and a stale handle finds nothing. */
static struct vm *lookup(uint64_t handle)
{
	uint64_t slot = (handle & 0xff) - 1;

	return slot < VM_MAX && vms[slot].handle == handle ? &vms[slot] : NULL;
}

hv_return_t vm_create(uint64_t options, uint64_t *handle)
{
	struct vm *vm = NULL;
	struct ept *spaces;

	if (options & ~(uint64_t)VM_OPTIONS_KNOWN)
		return HV_BAD_ARGUMENT;
	spaces = pool_alloc_page(vm_pool);
	if (!spaces)
		return HV_NO_RESOURCES;
	if (ept_init(&spaces[0], vm_pool, vm_gpa_limit) < 0) {
		pool_free_pages(vm_pool, spaces, 1);
		return HV_NO_RESOURCES;
	}
	spin_lock(&vm_table_lock);
	for (unsigned i = 0; i < VM_MAX && !vm; i++)
		if (!vms[i].handle)
			vm = &vms[i];
	if (vm) {
		vm->handle = (++vm_generation << 8) | (uint64_t)(vm - vms + 1);
		vm->options = options;
		vm->spaces = spaces;
		vm->space_pages = 1;
		vm->nspaces = 1;
		*handle = vm->handle;
	}
	spin_unlock(&vm_table_lock);
	if (!vm) {
		ept_destroy(&spaces[0]);
		pool_free_pages(vm_pool, spaces, 1);
		return HV_NO_RESOURCES;
	}
	return HV_SUCCESS;
}

hv_return_t vm_destroy(uint64_t handle)
{
	struct vm *vm;

	spin_lock(&vm_table_lock);
	vm = lookup(handle);
	if (vm) {
		/* Waits for any call still using the VM, then no new one can find it. */
		spin_lock(&vm->lock);
		vm->handle = 0;
		spin_unlock(&vm->lock);
	}
	spin_unlock(&vm_table_lock);
	if (!vm)
		return HV_BAD_ARGUMENT;
	for (uint32_t i = 0; i < vm->space_pages * SPACES_PER_PAGE; i++)
		if (vm->spaces[i].pml4)
			ept_destroy(&vm->spaces[i]);
	pool_free_pages(vm_pool, vm->spaces, vm->space_pages);
	vm->spaces = NULL;
	vm->space_pages = 0;
	vm->nspaces = 0;
	return HV_SUCCESS;
}

struct vm *vm_get(uint64_t handle)
{
	struct vm *vm;

	spin_lock(&vm_table_lock);
	vm = lookup(handle);
	if (vm)
		spin_lock(&vm->lock);
	spin_unlock(&vm_table_lock);
	return vm;
}

void vm_put(struct vm *vm)
{
	spin_unlock(&vm->lock);
}

/* Doubles the space table: slots are indices, so moving them is safe under the VM's lock. */
static bool grow_spaces(struct vm *vm)
{
	uint32_t pages = vm->space_pages * 2;
	struct ept *spaces;

	if ((uint64_t)pages * SPACES_PER_PAGE > UINT32_MAX)
		return false;
	spaces = pool_alloc_pages(vm_pool, pages);
	if (!spaces)
		return false;
	memcpy(spaces, vm->spaces, vm->space_pages * PAGE_SIZE);
	pool_free_pages(vm_pool, vm->spaces, vm->space_pages);
	vm->spaces = spaces;
	vm->space_pages = pages;
	return true;
}

hv_return_t vm_space_create(struct vm *vm, uint32_t *asid)
{
	uint32_t i = 1, slots = vm->space_pages * SPACES_PER_PAGE;

	if (vm->nspaces == slots && !grow_spaces(vm))
		return HV_NO_RESOURCES;
	while (vm->spaces[i].pml4)
		i++;
	if (ept_init(&vm->spaces[i], vm_pool, vm_gpa_limit) < 0)
		return HV_NO_RESOURCES;
	vm->nspaces++;
	*asid = i;
	return HV_SUCCESS;
}

hv_return_t vm_space_destroy(struct vm *vm, uint32_t asid)
{
	/* The default space lives as long as the VM. */
	if (asid == 0 || !vm_space(vm, asid))
		return HV_BAD_ARGUMENT;
	ept_destroy(&vm->spaces[asid]);
	memset(&vm->spaces[asid], 0, sizeof(vm->spaces[asid]));
	vm->nspaces--;
	return HV_SUCCESS;
}

struct ept *vm_space(struct vm *vm, uint32_t asid)
{
	return asid < vm->space_pages * SPACES_PER_PAGE && vm->spaces[asid].pml4 ?
	       &vm->spaces[asid] : NULL;
}

uint64_t vm_table_pages(const struct vm *vm)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < vm->space_pages * SPACES_PER_PAGE; i++)
		n += vm->spaces[i].table_pages;
	return n;
}

uint64_t vm_spaces_max(void)
{
	uint64_t n = pool_total_bytes(vm_pool) / (PAGE_SIZE + sizeof(struct ept));

	return n < UINT32_MAX ? n : UINT32_MAX;
}
