/*
 * vmm.efi: the example VMM as a UEFI program in hvmetal's control domain. hvmetal
 * starts it after the late launch (hvmetal.cfg: next = \EFI\hvmetal\vmm.efi); it
 * prints on COM1, runs a second vCPU on another CPU through UEFI MP services and
 * powers the machine off when the guests are done.
 */
#include <efi.h>
#include <efilib.h>
#include <stdarg.h>
#include <hvmetal/hvmetal.h>
#include "boot/efi_mp.h"
#include "kernel/log.h"
#include "platform.h"
#include "vmm.h"

#define PROCESSOR_ENABLED	0x2	/* EFI_PROCESSOR_INFORMATION.StatusFlag */
#define CALIBRATE_US		10000

static uint64_t ticks_per_ms;		/* of hv_tsc_clock, measured once in efi_main */

static EFI_MP_SERVICES_PROTOCOL *mp;
static EFI_EVENT second_done;
static void (*second_fn)(void *);
static void *second_arg;

void plat_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(fmt, ap);
	va_end(ap);
}

/* hvmetal's run_until deadlines are hv_tsc_clock() values. */
uint64_t plat_clock(void)
{
	return hv_tsc_clock();
}

uint64_t plat_clock_ms(unsigned ms)
{
	return ticks_per_ms * ms;
}

/* Boot services may only be called here, on the CPU running efi_main: the rate is measured now. */
static void calibrate(void)
{
	uint64_t t0 = hv_tsc_clock();

	uefi_call_wrapper(BS->Stall, 1, CALIBRATE_US);
	ticks_per_ms = (hv_tsc_clock() - t0) / (CALIBRATE_US / 1000);
	if (!ticks_per_ms)
		ticks_per_ms = 1;
}

/* MP services call an ms_abi procedure: the VMM's function is the C ABI's. */
static VOID EFIAPI second_entry(VOID *unused)
{
	(void)unused;
	second_fn(second_arg);
}

/* The first enabled CPU that is not this one; false if none. */
static bool other_cpu(UINTN *cpu)
{
	UINTN total = 0, enabled = 0, me = 0;

	if (!mp ||
	    EFI_ERROR(uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &total, &enabled)) ||
	    enabled < 2 || EFI_ERROR(uefi_call_wrapper(mp->WhoAmI, 2, mp, &me)))
		return false;
	for (UINTN i = 0; i < total; i++) {
		EFI_PROCESSOR_INFORMATION info;

		if (i == me ||
		    EFI_ERROR(uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, i, &info)))
			continue;
		if (info.StatusFlag & PROCESSOR_ENABLED) {
			*cpu = i;
			return true;
		}
	}
	return false;
}

bool plat_start_second_cpu(void (*fn)(void *arg), void *arg)
{
	UINTN cpu;

	if (second_done || !other_cpu(&cpu))
		return false;
	second_fn = fn;
	second_arg = arg;
	/* Non-blocking: the event is signalled when the procedure has returned. */
	if (EFI_ERROR(uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &second_done)))
		return second_done = NULL, false;
	if (EFI_ERROR(uefi_call_wrapper(mp->StartupThisAP, 7, mp, second_entry, cpu, second_done, 0,
					NULL, NULL))) {
		uefi_call_wrapper(BS->CloseEvent, 1, second_done);
		second_done = NULL;
		return false;
	}
	return true;
}

void plat_wait_second_cpu(void)
{
	UINTN index;

	if (!second_done)
		return;
	uefi_call_wrapper(BS->WaitForEvent, 3, 1, &second_done, &index);
	uefi_call_wrapper(BS->CloseEvent, 1, second_done);
	second_done = NULL;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;
	EFI_STATUS status;
	int code = 1;

	InitializeLib(image, st);
	/* No MP services: one CPU, and the VMM takes turns between its vCPUs. */
	if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp)))
		mp = NULL;
	calibrate();
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
