#include <efi.h>
#include <efilib.h>
#include "efi_chain.h"

void efi_chain(EFI_HANDLE image, CHAR16 *path, const CHAR16 *who)
{
	EFI_LOADED_IMAGE *li = NULL;
	EFI_DEVICE_PATH *dp;
	EFI_HANDLE next;
	EFI_STATUS st;

	if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol,
					(void **)&li)))
		return;
	dp = FileDevicePath(li->DeviceHandle, path);
	st = uefi_call_wrapper(BS->LoadImage, 6, FALSE, image, dp, NULL, 0, &next);
	if (dp)
		FreePool(dp);
	if (EFI_ERROR(st)) {
		Print(L"%s: cannot load %s: %r\n", who, path, st);
		return;
	}
	uefi_call_wrapper(BS->StartImage, 3, next, NULL, NULL);
}
