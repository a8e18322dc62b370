/*
 * An example VMM as a UEFI program in hvmetal's control domain (vmm.efi,
 * mbvmm.efi). hvmetal starts it after the late launch (hvmetal.cfg: next =
 * \EFI\hvmetal\vmm.efi, its arguments in next_args); it prints on COM1, reads
 * files from the ESP it was loaded from, runs vCPUs on the other CPUs
 * through UEFI MP services and powers the machine off when it is done.
 */
#include <efi.h>
#include <efilib.h>
#include <stdarg.h>
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "boot/efi_mp.h"
#include "kernel/log.h"
#include "platform.h"

#define PROCESSOR_ENABLED	0x2	/* EFI_PROCESSOR_INFORMATION.StatusFlag */
#define CALIBRATE_US		10000
#define MAX_ARGS		32
#define ARGS_BYTES		1024
#define PATH_CHARS		256

static uint64_t ticks_per_ms;		/* of hv_tsc_clock, measured once in efi_main */

static EFI_MP_SERVICES_PROTOCOL *mp;
static EFI_LOADED_IMAGE *loaded;
static UINTN cpu_number[PLAT_CPUS_MAX];	/* MP services' number of the program's CPU n (0: this one) */
static unsigned cpus = 1;
static struct started {
	EFI_EVENT done;			/* signalled when fn has returned */
	void (*fn)(void *);
	void *arg;
} started[PLAT_CPUS_MAX];

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
static VOID EFIAPI cpu_entry(VOID *arg)
{
	struct started *st = arg;

	st->fn(st->arg);
}

/* This CPU, then every other enabled one, in MP services' order. */
static void find_cpus(void)
{
	UINTN total = 0, enabled = 0, me = 0;

	if (!mp ||
	    EFI_ERROR(uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &total, &enabled)) ||
	    EFI_ERROR(uefi_call_wrapper(mp->WhoAmI, 2, mp, &me)))
		return;
	cpu_number[0] = me;
	for (UINTN i = 0; i < total && cpus < PLAT_CPUS_MAX; i++) {
		EFI_PROCESSOR_INFORMATION info;

		if (i != me && !EFI_ERROR(uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, i, &info)) &&
		    (info.StatusFlag & PROCESSOR_ENABLED))
			cpu_number[cpus++] = i;
	}
}

unsigned plat_cpu_count(void)
{
	return cpus;
}

bool plat_start_cpu(unsigned n, void (*fn)(void *arg), void *arg)
{
	struct started *st;

	if (n == 0 || n >= cpus || started[n].done)	/* cpus <= PLAT_CPUS_MAX */
		return false;
	st = &started[n];
	st->fn = fn;
	st->arg = arg;
	/* Non-blocking: the event is signalled when the procedure has returned. */
	if (EFI_ERROR(uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &st->done)))
		return st->done = NULL, false;
	if (EFI_ERROR(uefi_call_wrapper(mp->StartupThisAP, 7, mp, cpu_entry, cpu_number[n], st->done, 0,
					st, NULL))) {
		uefi_call_wrapper(BS->CloseEvent, 1, st->done);
		st->done = NULL;
		return false;
	}
	return true;
}

void plat_wait_cpus(void)
{
	UINTN index;

	for (unsigned n = 1; n < cpus; n++) {
		if (!started[n].done)
			continue;
		uefi_call_wrapper(BS->WaitForEvent, 3, 1, &started[n].done, &index);
		uefi_call_wrapper(BS->CloseEvent, 1, started[n].done);
		started[n].done = NULL;
	}
}

/* Boot services: on the CPU running efi_main only. */
bool plat_read_file(const char *path, uint8_t **data, size_t *size)
{
	EFI_FILE_HANDLE root = loaded ? LibOpenRoot(loaded->DeviceHandle) : NULL, f = NULL;
	CHAR16 wide[PATH_CHARS];
	EFI_FILE_INFO *info = NULL;
	UINTN i, len = 0;
	bool ok = false;

	*data = NULL;
	for (i = 0; path[i] && i < PATH_CHARS - 1; i++)
		wide[i] = path[i] == '/' ? L'\\' : (CHAR16)(uint8_t)path[i];
	wide[i] = 0;
	if (!root || path[i] ||
	    EFI_ERROR(uefi_call_wrapper(root->Open, 5, root, &f, wide, EFI_FILE_MODE_READ, 0)))
		goto out;
	info = LibFileInfo(f);
	if (!info || info->FileSize > SIZE_MAX - 1)
		goto out;
	len = info->FileSize;
	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, len + 1, (void **)data)))
		goto out;
	ok = !EFI_ERROR(uefi_call_wrapper(f->Read, 3, f, &len, *data)) && len == info->FileSize;
	*size = len;
out:
	if (!ok && *data) {
		uefi_call_wrapper(BS->FreePool, 1, *data);
		*data = NULL;
	}
	if (info)
		FreePool(info);
	if (f)
		uefi_call_wrapper(f->Close, 1, f);
	if (root)
		uefi_call_wrapper(root->Close, 1, root);
	return ok;
}

/* LoadOptions (UCS-2, from next_args or a shell) split on blanks after argv[0] = name; ASCII only. */
static int arguments(char **argv, char *buf, const char *name)
{
	const CHAR16 *w = loaded ? loaded->LoadOptions : NULL;
	UINTN n = loaded ? loaded->LoadOptionsSize / sizeof(CHAR16) : 0, used = 0;
	int argc = 1;
	bool in_word = false;

	argv[0] = (char *)name;
	for (UINTN i = 0; i < n && w[i] && used < ARGS_BYTES - 1; i++) {
		char c = w[i] < 0x80 ? (char)w[i] : '?';

		if (c == ' ' || c == '\t') {
			if (in_word)
				buf[used++] = 0;
			in_word = false;
			continue;
		}
		if (!in_word) {
			if (argc == MAX_ARGS - 1)
				break;
			argv[argc++] = buf + used;
			in_word = true;
		}
		buf[used++] = c;
	}
	buf[used] = 0;
	argv[argc] = NULL;
	return argc;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;
	static char *argv[MAX_ARGS], args[ARGS_BYTES];
	EFI_STATUS status;
	int argc, code = 1;

	InitializeLib(image, st);
	if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&loaded)))
		loaded = NULL;
	argc = arguments(argv, args, plat_name);
	/* No MP services: one CPU, and the VMM takes turns between its vCPUs. */
	if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp)))
		mp = NULL;
	find_cpus();
	calibrate();
	/* Without hvmetal underneath, libhv's VMCALLs would fault: say so instead. */
	if (hvmetal_present())
		code = plat_main(argc, argv);
	else
		log_printf("%s: error: hvmetal is not running (no CPUID signature): no guests\n", argv[0]);
	log_printf("%s: exit code %d; powering off\n", argv[0], code);
	log_flush();
	status = code ? EFI_ABORTED : EFI_SUCCESS;
	uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, status, 0, NULL);
	return status;
}
