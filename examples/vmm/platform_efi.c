/*
 * vmm.efi: the example VMM as a UEFI program in hvmetal's control domain. hvmetal
 * starts it after the late launch (hvmetal.cfg: next = \EFI\hvmetal\vmm.efi); it
 * prints on COM1 and powers the machine off when the guests are done.
 */
#include <efi.h>
#include <efilib.h>
#include <stdarg.h>
#include <hvmetal/hvmetal.h>
#include "kernel/log.h"
#include "platform.h"
#include "vmm.h"

void plat_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(fmt, ap);
	va_end(ap);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_STATUS status;
	int code = 1;

	InitializeLib(image, st);
	/* Without hvmetal underneath, libhv's VMCALLs would fault: say so instead. */
	if (hvmetal_present())
		code = vmm_main();
	else
		log_printf("vmm: error: hvmetal is not running (no CPUID signature): no guests\n");
	log_printf("vmm: exit code %d; powering off\n", code);
	log_flush();
	status = code ? EFI_ABORTED : EFI_SUCCESS;
	uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, status, 0, NULL);
	return status;
}
