/*
 * Apple's VM and memory API over hvmetal's hypercalls. Like Hypervisor.framework,
 * the caller has at most one VM at a time ("the current task's VM"); libhv keeps
 * its handle.
 */
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "libhv.h"

static uint64_t current_vm;	/* 0: no VM */

uint64_t libhv_vm(void)
{
	return current_vm;
}

hv_return_t hv_capability(hv_capability_t capability, uint64_t *value)
{
	uint64_t v = 0;
	hv_return_t r;

	if (!value)
		return HV_BAD_ARGUMENT;
	r = hvmetal_vmcall(HVMETAL_HC_CAPABILITY, capability, 0, 0, &v);
	if (r == HV_SUCCESS)
		*value = v;
	return r;
}

hv_return_t hv_vm_create(hv_vm_options_t flags)
{
	uint64_t vm = 0;
	hv_return_t r;

	if (current_vm)
		return HV_BUSY;
	r = hvmetal_vmcall(HVMETAL_HC_VM_CREATE, flags, 0, 0, &vm);
	if (r == HV_SUCCESS)
		current_vm = vm;
	return r;
}

hv_return_t hv_vm_destroy(void)
{
	hv_return_t r;

	if (!current_vm)
		return HV_NO_DEVICE;
	r = hvmetal_vmcall(HVMETAL_HC_VM_DESTROY, current_vm, 0, 0, 0);
	if (r == HV_SUCCESS)
		current_vm = 0;
	return r;
}

hv_return_t hv_vm_space_create(hv_vm_space_t *asid)
{
	uint64_t id = 0;
	hv_return_t r;

	if (!current_vm)
		return HV_NO_DEVICE;
	if (!asid)
		return HV_BAD_ARGUMENT;
	r = hvmetal_vmcall(HVMETAL_HC_VM_SPACE_CREATE, current_vm, 0, 0, &id);
	if (r == HV_SUCCESS)
		*asid = (hv_vm_space_t)id;
	return r;
}

hv_return_t hv_vm_space_destroy(hv_vm_space_t asid)
{
	if (!current_vm)
		return HV_NO_DEVICE;
	return hvmetal_vmcall(HVMETAL_HC_VM_SPACE_DESTROY, current_vm, asid, 0, 0);
}

hv_return_t hv_vm_map_space(hv_vm_space_t asid, hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size,
			    hv_memory_flags_t flags)
{
	if (!current_vm)
		return HV_NO_DEVICE;
	return hvmetal_vmcall6(HVMETAL_HC_VM_MAP, current_vm, asid, (uintptr_t)uva, gpa, size, flags);
}

hv_return_t hv_vm_unmap_space(hv_vm_space_t asid, hv_gpaddr_t gpa, size_t size)
{
	if (!current_vm)
		return HV_NO_DEVICE;
	return hvmetal_vmcall6(HVMETAL_HC_VM_UNMAP, current_vm, asid, gpa, size, 0, 0);
}

hv_return_t hv_vm_protect_space(hv_vm_space_t asid, hv_gpaddr_t gpa, size_t size,
				hv_memory_flags_t flags)
{
	if (!current_vm)
		return HV_NO_DEVICE;
	return hvmetal_vmcall6(HVMETAL_HC_VM_PROTECT, current_vm, asid, gpa, size, flags, 0);
}

hv_return_t hv_vm_map(hv_uvaddr_t uva, hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags)
{
	return hv_vm_map_space(HV_VM_SPACE_DEFAULT, uva, gpa, size, flags);
}

hv_return_t hv_vm_unmap(hv_gpaddr_t gpa, size_t size)
{
	return hv_vm_unmap_space(HV_VM_SPACE_DEFAULT, gpa, size);
}

hv_return_t hv_vm_protect(hv_gpaddr_t gpa, size_t size, hv_memory_flags_t flags)
{
	return hv_vm_protect_space(HV_VM_SPACE_DEFAULT, gpa, size, flags);
}

hv_return_t hvmetal_vm_translate(hv_vm_space_t asid, hv_gpaddr_t gpa, struct hvmetal_translation *t)
{
	if (!current_vm)
		return HV_NO_DEVICE;
	return hvmetal_vmcall6(HVMETAL_HC_VM_TRANSLATE, current_vm, asid, gpa, (uintptr_t)t, 0, 0);
}

hv_return_t hvmetal_vm_stats(struct hvmetal_vm_stats *st)
{
	if (!current_vm)
		return HV_NO_DEVICE;
	return hvmetal_vmcall(HVMETAL_HC_VM_STATS, current_vm, (uintptr_t)st, 0, 0);
}
