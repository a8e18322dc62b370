#include <efi.h>
#include <efilib.h>
#include "memmap_efi.h"

/* Memory the control domain owns and may hand to hvmetal: write-back RAM. */
static int efi_type_is_ram(UINT32 type)
{
	switch (type) {
	case EfiLoaderCode:
	case EfiLoaderData:
	case EfiBootServicesCode:
	case EfiBootServicesData:
	case EfiRuntimeServicesCode:
	case EfiRuntimeServicesData:
	case EfiConventionalMemory:
	case EfiACPIReclaimMemory:
	case EfiACPIMemoryNVS:
	case 14:	/* EfiPersistentMemory: newer than gnu-efi */
		return 1;
	default:	/* reserved, unusable, MMIO, port space, PAL code: uncached */
		return 0;
	}
}

EFI_STATUS memmap_from_efi(struct memmap *m)
{
	UINTN entries, key, desc_size;
	UINT32 desc_version;
	EFI_MEMORY_DESCRIPTOR *map = LibMemoryMap(&entries, &key, &desc_size, &desc_version);

	if (!map)
		return EFI_OUT_OF_RESOURCES;
	memmap_init(m);
	for (UINTN i = 0; i < entries; i++) {
		EFI_MEMORY_DESCRIPTOR *d = (void *)((UINT8 *)map + i * desc_size);

		if (efi_type_is_ram(d->Type) &&
		    memmap_add_ram(m, d->PhysicalStart, d->NumberOfPages * 4096) < 0) {
			FreePool(map);
			return EFI_BUFFER_TOO_SMALL;
		}
	}
	FreePool(map);
	return EFI_SUCCESS;
}
