/*
 * hv_vm_allocate for Linux processes: page-aligned anonymous memory, private to the
 * process. Nothing is pinned here: the driver pins the pages hv_vm_map maps, for as
 * long as they are mapped.
 */
#include <sys/mman.h>
#include <Hypervisor/hv_vm_allocate.h>

#define PAGE	4096

hv_return_t hv_vm_allocate(void **uvap, size_t size, hv_allocate_flags_t flags)
{
	void *p;

	if (!uvap || !size || (size & (PAGE - 1)) || flags != HV_ALLOCATE_DEFAULT)
		return HV_BAD_ARGUMENT;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return HV_NO_RESOURCES;
	*uvap = p;
	return HV_SUCCESS;
}

hv_return_t hv_vm_deallocate(void *uva, size_t size)
{
	if (!uva || !size || (size & (PAGE - 1)) || ((uintptr_t)uva & (PAGE - 1)))
		return HV_BAD_ARGUMENT;
	return munmap(uva, size) ? HV_BAD_ARGUMENT : HV_SUCCESS;
}
