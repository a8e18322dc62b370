/*
 * hvmetal.efi: check the CPU, reserve hvmetal's region, move the core into it,
 * build host state and late-launch every CPU into VMX non-root mode, then start
 * the next image. Any failure is one line on the console and the serial port and
 * a clean return: the firmware keeps booting without a hypervisor.
 */
#include <efi.h>
#include <efilib.h>
#include "cd/cd_launch.h"
#include "config.h"
#include "efi_mp.h"
#include "kernel/cpu.h"
#include "kernel/hvmetal.h"
#include "kernel/log.h"
#include "memmap_efi.h"
#include "relocate.h"
#include "vmx/vmx_caps.h"

#define CONFIG_FILE	L"\\EFI\\hvmetal\\hvmetal.cfg"
#define CONFIG_MAX	4096

typedef int (*launch_fn)(uint32_t cpu, uint64_t rsp, uint64_t rip, uint64_t rflags);
typedef void (*park_fn)(uint32_t cpu, volatile UINTN *parked);
typedef const char *(*setup_fn)(const struct boot_info *bi);

/* boot/launch.asm */
extern int boot_launch_cpu(launch_fn fn, uint32_t cpu);
/* gnu-efi's linker script: where this image starts. */
extern char ImageBase[];

static EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;

/* Shared with the APs while they launch. */
struct ap_launch {
	EFI_MP_SERVICES_PROTOCOL *mp;
	launch_fn launch;
	park_fn park;
	volatile UINTN launched, failures;
};

static void say(const char *fmt, const char *arg)
{
	char line[200];
	CHAR16 wide[200];
	unsigned i;

	log_snprintf(line, sizeof(line), fmt, arg);
	log_printf("%s\n", line);
	for (i = 0; line[i] && i < 199; i++)
		wide[i] = line[i];
	wide[i] = 0;
	Print(L"%s\n", wide);
}

static void to_wide(CHAR16 *dst, const char *src, unsigned max)
{
	unsigned i;

	for (i = 0; src[i] && i + 1 < max; i++)
		dst[i] = src[i];
	dst[i] = 0;
}

static EFI_FILE_HANDLE open_file(EFI_HANDLE device, CHAR16 *path)
{
	EFI_FILE_HANDLE root = LibOpenRoot(device), f = NULL;

	if (!root)
		return NULL;
	if (EFI_ERROR(uefi_call_wrapper(root->Open, 5, root, &f, path, EFI_FILE_MODE_READ, 0)))
		f = NULL;
	uefi_call_wrapper(root->Close, 1, root);
	return f;
}

static void load_config(EFI_HANDLE device, struct hv_config *cfg)
{
	static char text[CONFIG_MAX];
	char err[120];
	UINTN len = sizeof(text);
	EFI_FILE_HANDLE f = open_file(device, CONFIG_FILE);

	config_defaults(cfg);
	if (!f)
		return;
	if (!EFI_ERROR(uefi_call_wrapper(f->Read, 3, f, &len, text)) &&
	    config_parse(cfg, text, len, err, sizeof(err)))
		say("hvmetal: %s (line ignored)", err);
	uefi_call_wrapper(f->Close, 1, f);
}

/* Can this CPU enter VMX operation (the boot CPU's own check is vmx_probe's)? */
static VOID EFIAPI ap_check(VOID *arg)
{
	struct ap_launch *al = arg;
	uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);

	if (!(cpuid(1, 0).ecx & (1u << 5)) ||
	    ((fc & FEATURE_CONTROL_LOCK) && !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)))
		__atomic_add_fetch(&al->failures, 1, __ATOMIC_SEQ_CST);
}

/*
 * A CPU that passed ap_check but still failed to launch (hvmetal's own fault)
 * must not run on with full memory access: it parks in hvmetal (cd_park) until
 * a start-up IPI launches it from the INIT state; INIT and SIPI never reach a CPU
 * natively once the launch settled. One the firmware cannot even name halts here.
 */
static VOID EFIAPI ap_entry(VOID *arg)
{
	struct ap_launch *al = arg;
	UINTN me;
	bool named = !EFI_ERROR(uefi_call_wrapper(al->mp->WhoAmI, 2, al->mp, &me)) &&
		     me < HV_MAX_CPUS;

	if (!named) {
		__atomic_add_fetch(&al->failures, 1, __ATOMIC_SEQ_CST);
		cpu_halt_forever();
	}
	if (boot_launch_cpu(al->launch, me) == 0) {
		__atomic_add_fetch(&al->launched, 1, __ATOMIC_SEQ_CST);
		return;
	}
	al->park(me, &al->failures);	/* counts itself among the failures once there */
}

/*
 * Runs ap_entry on every AP; returns how many launched. Not in the firmware's
 * blocking mode: a parked CPU never returns, and at a timeout the firmware
 * would reset it and wait for ever for its answer. The APs count themselves
 * instead, for at most a second; with none parked the firmware's request ends
 * too (within another second), so MP services are free for the control domain.
 * A request that never ends keeps done: the firmware may still hold it.
 */
static UINTN launch_aps(struct ap_launch *al, UINTN aps, EFI_EVENT done)
{
	if (!EFI_ERROR(uefi_call_wrapper(al->mp->StartupAllAPs, 7, al->mp, ap_entry, FALSE, done, 0,
					 al, NULL)))
		for (unsigned ms = 0; ms < 1000 && al->launched + al->failures < aps; ms++)
			uefi_call_wrapper(BS->Stall, 1, 1000);
	if (al->launched == aps) {
		/* The firmware sees them back at its next status check; an ended request lets go of done. */
		for (unsigned ms = 0; ms < 1000; ms++) {
			if (uefi_call_wrapper(BS->CheckEvent, 1, done) != EFI_NOT_READY) {
				uefi_call_wrapper(BS->CloseEvent, 1, done);
				break;
			}
			uefi_call_wrapper(BS->Stall, 1, 1000);
		}
	}
	if (al->failures)
		say("hvmetal: %s", "some application processors failed to launch: parked in hvmetal "
		    "until a start-up IPI starts them from the INIT state");
	if (al->launched + al->failures < aps)
		say("hvmetal: %s", "some application processors neither launched nor parked: "
		    "they run outside hvmetal");
	return al->launched;
}

static UINTN cpu_count(EFI_MP_SERVICES_PROTOCOL *mp, UINTN *bsp)
{
	UINTN total = 1, enabled = 1;

	*bsp = 0;
	if (mp) {
		uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &total, &enabled);
		uefi_call_wrapper(mp->WhoAmI, 2, mp, bsp);
	}
	return total;
}

/* Returns NULL once every CPU runs the control domain under hvmetal, else why not. */
static const char *launch(EFI_LOADED_IMAGE *li, const struct hv_config *cfg, UINTN *launched)
{
	static struct boot_info bi;
	EFI_MP_SERVICES_PROTOCOL *mp = NULL;
	EFI_PHYSICAL_ADDRESS region = 0;
	uint64_t image_size = (li->ImageSize + 4095) & ~4095ull;
	uint64_t pool_size = (uint64_t)cfg->pool_mib << 20;
	struct ap_launch al = { 0 };
	EFI_EVENT aps_done = NULL;
	const char *why;
	UINTN bsp, ncpu;

	uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp);
	ncpu = cpu_count(mp, &bsp);
	/* Every CPU runs under hvmetal or none does: one left out would reach any memory. */
	if (ncpu > cfg->max_cpus)
		return cfg->max_cpus == CONFIG_MAX_CPUS ? "more CPUs than hvmetal's 64" :
		       "more CPUs than max_cpus in hvmetal.cfg";
	al.mp = mp;
	if (ncpu > 1 && (EFI_ERROR(uefi_call_wrapper(mp->StartupAllAPs, 7, mp, ap_check, FALSE,
						      NULL, 0, &al, NULL)) || al.failures))
		return "an application processor cannot enter VMX operation";
	/* Made now: once the boot CPU runs under hvmetal, the APs must start. */
	if (ncpu > 1 && EFI_ERROR(uefi_call_wrapper(BS->CreateEvent, 5, 0, 0, NULL, NULL, &aps_done)))
		return "cannot create the event the application processors' launch needs";
	/* Runtime-services code: executable now, and an OS booted later keeps out of it. */
	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateAnyPages,
					EfiRuntimeServicesCode, (image_size + pool_size) >> 12,
					&region))) {
		why = "cannot reserve memory for hvmetal's region";
		goto close;
	}
	bi.region_base = region;
	bi.region_size = image_size + pool_size;
	bi.image_base = region;
	bi.image_size = image_size;
	bi.pool_base = region + image_size;
	bi.pool_size = pool_size;
	bi.cpu_count = ncpu;
	bi.vmx_hide = cfg->vmx_hide;
	if (EFI_ERROR(memmap_from_efi(&bi.memmap))) {
		why = "cannot read the firmware's memory map";
		goto free;
	}
	memmap_set_hidden(&bi.memmap, bi.region_base, bi.region_size);

	void *copy = (void *)(uintptr_t)region;

	relocate_image(copy, ImageBase, li->ImageSize);
	why = ((setup_fn)relocate_symbol(copy, ImageBase, cd_setup))(&bi);
	if (why) {
		/* The text lives in the copy too: read it from this image instead. */
		why = relocate_back(copy, ImageBase, why);
		goto free;
	}
	al.launch = (launch_fn)relocate_symbol(copy, ImageBase, cd_launch);
	al.park = (park_fn)relocate_symbol(copy, ImageBase, cd_park);
	if (boot_launch_cpu(al.launch, bsp) < 0) {
		why = "VMX launch failed on the boot CPU (see the serial log)";
		goto free;
	}
	*launched = 1;
	if (ncpu > 1)
		*launched = 1 + launch_aps(&al, ncpu - 1, aps_done);
	return NULL;
free:
	/* Nothing runs from the region yet: hand it back. */
	uefi_call_wrapper(BS->FreePages, 2, region, (image_size + pool_size) >> 12);
close:
	if (aps_done)
		uefi_call_wrapper(BS->CloseEvent, 1, aps_done);
	return why;
}

/*
 * next_args becomes the loaded image's LoadOptions, in UCS-2 with its NUL counted,
 * as the UEFI shell passes a command line: a Linux EFI stub takes it as the
 * kernel's. It must outlive the image's start, hence static. 0, or -1.
 */
static int set_load_options(EFI_HANDLE next, const char *args)
{
	static CHAR16 wide[CONFIG_ARGS_MAX];
	EFI_LOADED_IMAGE *nli = NULL;
	unsigned n;

	if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, next, &LoadedImageProtocol,
					(void **)&nli)))
		return -1;
	to_wide(wide, args, CONFIG_ARGS_MAX);
	for (n = 0; wide[n]; n++)
		;
	nli->LoadOptions = wide;
	nli->LoadOptionsSize = (n + 1) * sizeof(CHAR16);
	return 0;
}

/* The options on the serial log, in pieces a log line holds. */
static void log_options(const char *args)
{
	char piece[161];
	unsigned i = 0, n;

	while (args[i]) {
		for (n = 0; n < sizeof(piece) - 1 && args[i + n]; n++)
			piece[n] = args[i + n];
		piece[n] = 0;
		log_printf("hvmetal: %s %s\n", i ? "   ..." : "options:", piece);
		i += n;
	}
}

static void start_next(EFI_HANDLE image, EFI_LOADED_IMAGE *li, const struct hv_config *cfg)
{
	CHAR16 path[CONFIG_PATH_MAX];
	EFI_DEVICE_PATH *dp;
	EFI_HANDLE next;
	EFI_FILE_HANDLE probe;
	EFI_STATUS st;

	if (!cfg->next[0])
		return;
	to_wide(path, cfg->next, CONFIG_PATH_MAX);
	probe = open_file(li->DeviceHandle, path);
	if (!probe) {
		say("hvmetal: next image %s not found: back to the firmware", cfg->next);
		return;
	}
	uefi_call_wrapper(probe->Close, 1, probe);
	dp = FileDevicePath(li->DeviceHandle, path);
	st = uefi_call_wrapper(BS->LoadImage, 6, FALSE, image, dp, NULL, 0, &next);
	if (dp)
		FreePool(dp);
	if (EFI_ERROR(st)) {
		say("hvmetal: cannot load %s", cfg->next);
		return;
	}
	if (cfg->next_args[0] && set_load_options(next, cfg->next_args) < 0) {
		say("hvmetal: cannot pass next_args to %s: back to the firmware", cfg->next);
		uefi_call_wrapper(BS->UnloadImage, 1, next);
		return;
	}
	log_printf("hvmetal: starting %s\n", cfg->next);
	if (cfg->next_args[0])
		log_options(cfg->next_args);
	uefi_call_wrapper(BS->StartImage, 3, next, NULL, NULL);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_LOADED_IMAGE *li = NULL;
	struct hv_config cfg;
	const char *why;
	UINTN launched = 0;

	InitializeLib(image, st);
	if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol,
					(void **)&li)))
		return EFI_LOAD_ERROR;
	log_printf("hvmetal: loaded at %p (%lu KiB)\n", li->ImageBase, li->ImageSize >> 10);
	load_config(li->DeviceHandle, &cfg);
	why = launch(li, &cfg, &launched);
	if (why)
		say("hvmetal: not started: %s", why);
	else
		log_printf("hvmetal: running: control domain on %lu CPUs; no DMA protection yet "
			   "(VT-d is not programmed: docs/security.md)\n", (uint64_t)launched);
	start_next(image, li, &cfg);
	return EFI_SUCCESS;
}
