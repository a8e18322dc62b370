/* hv_vm_allocate for UEFI control-domain programs: page-aligned pages from the firmware. */
#include <efi.h>
#include <efilib.h>
#include <Hypervisor/hv_vm_allocate.h>

hv_return_t hv_vm_allocate(void **uvap, size_t size, hv_allocate_flags_t flags)
{
	EFI_PHYSICAL_ADDRESS addr = 0;

	if (!uvap || !size || (size & 4095) || flags != HV_ALLOCATE_DEFAULT)
		return HV_BAD_ARGUMENT;
	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages, EfiLoaderData,
					size / 4096, &addr)))
		return HV_NO_RESOURCES;
	*uvap = (void *)(uintptr_t)addr;
	return HV_SUCCESS;
}

hv_return_t hv_vm_deallocate(void *uva, size_t size)
{
	if (!uva || !size || (size & 4095) || ((uintptr_t)uva & 4095))
		return HV_BAD_ARGUMENT;
	if (EFI_ERROR(uefi_call_wrapper(BS->FreePages, 2, (EFI_PHYSICAL_ADDRESS)(uintptr_t)uva,
					size / 4096)))
		return HV_BAD_ARGUMENT;
	return HV_SUCCESS;
}
