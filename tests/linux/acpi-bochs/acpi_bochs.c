/*
 * acpi-bochs.efi: test-vehicle plumbing for booting Linux as the control domain
 * under Bochs, not part of hvmetal.
 *
 * Debian's OVMF takes its ACPI tables from QEMU's fw_cfg; Bochs has no fw_cfg, so
 * under Bochs the firmware installs none. Linux then sees one CPU (no MADT) and
 * cannot power off (no FADT), and a test boot would never end by itself. Run first
 * (it is \EFI\BOOT\BOOTX64.EFI on build/esp-linux.img), this app installs, only when
 * the firmware has no RSDP, the few tables Bochs's i440FX/PIIX4 machine needs:
 *
 *   FACS;
 *   a DSDT holding only \_S5 (SLP_TYP 0 is S5 on the PIIX4);
 *   a FADT: PIIX4 power-management block at 0xb000 (where OVMF's PlatformPei puts
 *     PMBA), PM1a event 0xb000, PM1a control 0xb004 (power-off), PM timer 0xb008,
 *     SCI on IRQ 9, no SMI command port (the machine is taken as in ACPI mode);
 *   a MADT: one local APIC per enabled CPU from EFI_MP_SERVICES_PROTOCOL with its
 *     APIC ID, the IOAPIC at 0xfec00000 with the ID it reports, ISA IRQ 0 -> GSI 2
 *     and the SCI (IRQ 9, level, active high) as QEMU's PIIX4 tables have them.
 *
 * It installs them through the firmware's EFI_ACPI_TABLE_PROTOCOL, which links FACS
 * and DSDT into the FADT, builds RSDT/XSDT and publishes the RSDP configuration table.
 * Then it starts \EFI\hvmetal\hvmetal.efi from its own device. Under QEMU the firmware's
 * own tables exist and this app only starts hvmetal.
 */
#include <stddef.h>
#include <efi.h>
#include <efilib.h>
#include "boot/efi_mp.h"
#include "tests/efi-chain/efi_chain.h"


#define PM_BASE		0xb000	/* PIIX4 PMBA as OVMF programs it */
#define SCI_IRQ		9
#define IOAPIC_BASE	0xfec00000u
#define LAPIC_BASE	0xfee00000u
#define MAX_CPUS	64

#define EFI_ACPI_TABLE_PROTOCOL_GUID \
	{ 0xffe06bdd, 0x6107, 0x46a6, { 0x7b, 0xb2, 0x5a, 0x9c, 0x7e, 0xc5, 0x27, 0x5c } }

typedef struct _EFI_ACPI_TABLE_PROTOCOL EFI_ACPI_TABLE_PROTOCOL;
struct _EFI_ACPI_TABLE_PROTOCOL {
	EFI_STATUS (EFIAPI *InstallAcpiTable)(EFI_ACPI_TABLE_PROTOCOL *self, VOID *table,
					      UINTN size, UINTN *key);
	EFI_STATUS (EFIAPI *UninstallAcpiTable)(EFI_ACPI_TABLE_PROTOCOL *self, UINTN key);
};

struct acpi_header {
	char signature[4];
	UINT32 length;
	UINT8 revision;
	UINT8 checksum;
	char oem_id[6];
	char oem_table_id[8];
	UINT32 oem_revision;
	char creator_id[4];
	UINT32 creator_revision;
} __attribute__((packed));

struct facs {
	char signature[4];
	UINT32 length;
	UINT32 hardware_signature;
	UINT32 waking_vector;
	UINT32 global_lock;
	UINT32 flags;
	UINT64 x_waking_vector;
	UINT8 version;
	UINT8 reserved[3];
	UINT32 ospm_flags;
	UINT8 reserved2[24];
} __attribute__((packed));

/* ACPI 2.0+ FADT (revision 3, 244 bytes); the X_ blocks stay 0, Linux takes the 32-bit ones. */
struct fadt {
	struct acpi_header h;
	UINT32 firmware_ctrl, dsdt;		/* filled in by the ACPI table protocol */
	UINT8 reserved0, pm_profile;
	UINT16 sci_int;
	UINT32 smi_cmd;
	UINT8 acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	UINT32 pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk, pm_tmr_blk;
	UINT32 gpe0_blk, gpe1_blk;
	UINT8 pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_blk_len, gpe1_blk_len;
	UINT8 gpe1_base, cst_cnt;
	UINT16 p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	UINT8 duty_offset, duty_width, day_alrm, mon_alrm, century;
	UINT16 iapc_boot_arch;
	UINT8 reserved1;
	UINT32 flags;
	UINT8 reset_reg[12];
	UINT8 reset_value;
	UINT8 reserved2[3];
	UINT64 x_firmware_ctrl, x_dsdt;
	UINT8 x_blocks[8][12];
} __attribute__((packed));

_Static_assert(sizeof(struct fadt) == 244, "FADT revision 3 is 244 bytes");
_Static_assert(offsetof(struct fadt, flags) == 112 && offsetof(struct fadt, x_dsdt) == 140,
	       "FADT layout");

#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_PWR_BUTTON		(1u << 4)	/* no fixed power button */
#define FADT_SLP_BUTTON		(1u << 5)	/* no fixed sleep button */
#define BOOT_ARCH_LEGACY	(1u << 0)	/* ISA devices */
#define BOOT_ARCH_8042		(1u << 1)

/*
 * DSDT body: Name (\_S5, Package (4) { 0, 0, 0, 0 }). Writing SLP_TYP 0 with SLP_EN
 * to PM1a control is the PIIX4's soft-off, the one Bochs quits on.
 */
static const UINT8 dsdt_aml[] = {
	0x08,				/* NameOp */
	'\\',				/* RootChar: the name is absolute */
	'_', 'S', '5', '_',		/* NameSeg "_S5_" (four characters, '_'-padded) */
	0x12,				/* PackageOp */
	0x06,				/* PkgLength: itself, NumElements and 4 elements */
	0x04,				/* NumElements */
	0x00, 0x00, 0x00, 0x00,		/* ZeroOp x 4: SLP_TYPa, SLP_TYPb, reserved */
};

struct madt_header {
	struct acpi_header h;
	UINT32 lapic_address;
	UINT32 flags;			/* PCAT_COMPAT: there are 8259s */
} __attribute__((packed));

struct madt_lapic {
	UINT8 type, length;		/* 0, 8 */
	UINT8 uid, apic_id;
	UINT32 flags;			/* 1: enabled */
} __attribute__((packed));

struct madt_ioapic {
	UINT8 type, length;		/* 1, 12 */
	UINT8 id, reserved;
	UINT32 address, gsi_base;
} __attribute__((packed));

struct madt_override {
	UINT8 type, length;		/* 2, 10 */
	UINT8 bus, source;
	UINT32 gsi;
	UINT16 flags;			/* polarity bits 1:0, trigger bits 3:2; 0 = bus default */
} __attribute__((packed));

struct madt_lapic_nmi {
	UINT8 type, length;		/* 4, 6 */
	UINT8 uid;			/* 0xff: every processor */
	UINT16 flags;
	UINT8 lint;
} __attribute__((packed));

struct madt {
	struct madt_header h;
	struct madt_ioapic ioapic;
	struct madt_override irq0, sci;
	struct madt_lapic_nmi nmi;
	struct madt_lapic lapic[MAX_CPUS];
} __attribute__((packed));

static EFI_GUID acpi_table_guid = EFI_ACPI_TABLE_PROTOCOL_GUID;
static EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;
static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

static void header(struct acpi_header *h, const char *sig, UINT32 length, UINT8 revision)
{
	ZeroMem(h, sizeof(*h));
	CopyMem(h->signature, (VOID *)sig, 4);
	h->length = length;
	h->revision = revision;
	CopyMem(h->oem_id, "HVMETL", 6);
	CopyMem(h->oem_table_id, "BOCHSFIX", 8);
	h->oem_revision = 1;
	CopyMem(h->creator_id, "HVMT", 4);
	h->creator_revision = 1;
}

static void checksum(VOID *table, UINT32 length)
{
	UINT8 *b = table, sum = 0;

	for (UINT32 i = 0; i < length; i++)
		sum += b[i];
	((struct acpi_header *)table)->checksum = (UINT8)-sum;
}

/* The IOAPIC's own ID register (index 0, bits 27:24): Bochs numbers it after the CPUs. */
static UINT8 ioapic_id(void)
{
	volatile UINT32 *regsel = (UINT32 *)(UINTN)IOAPIC_BASE;
	volatile UINT32 *win = (UINT32 *)(UINTN)(IOAPIC_BASE + 0x10);

	*regsel = 0;
	return (*win >> 24) & 0x0f;
}

/* Local APIC entries for the enabled CPUs, the boot CPU first; how many. */
static UINTN cpus(struct madt_lapic *lapic)
{
	EFI_MP_SERVICES_PROTOCOL *mp = NULL;
	EFI_PROCESSOR_INFORMATION info;
	UINTN total = 1, enabled = 1, n = 0;
	UINT32 ebx;

	if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp)) ||
	    EFI_ERROR(uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &total, &enabled))) {
		/* No MP services: this CPU alone, its initial APIC ID from CPUID 1. */
		__asm__ volatile("cpuid" : "=b"(ebx) : "a"(1), "c"(0) : "edx");
		lapic[0] = (struct madt_lapic){ 0, sizeof(*lapic), 0, (UINT8)(ebx >> 24), 1 };
		return 1;
	}
	for (int bsp_pass = 1; bsp_pass >= 0; bsp_pass--)
		for (UINTN i = 0; i < total && n < MAX_CPUS; i++) {
			if (EFI_ERROR(uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, i, &info)) ||
			    !(info.StatusFlag & 0x2) || !!(info.StatusFlag & 0x1) != bsp_pass)
				continue;
			lapic[n] = (struct madt_lapic){ 0, sizeof(*lapic), (UINT8)n,
							(UINT8)info.ProcessorId, 1 };
			n++;
		}
	return n;
}

static EFI_STATUS install(EFI_ACPI_TABLE_PROTOCOL *acpi, VOID *table, const char *what)
{
	UINTN key;
	EFI_STATUS st;

	checksum(table, ((struct acpi_header *)table)->length);
	st = uefi_call_wrapper(acpi->InstallAcpiTable, 4, acpi, table,
			       ((struct acpi_header *)table)->length, &key);
	if (EFI_ERROR(st))
		Print(L"acpi-bochs: installing the %a failed: %r\n", what, st);
	return st;
}

static void install_tables(void)
{
	static struct facs facs;
	static UINT8 dsdt[sizeof(struct acpi_header) + sizeof(dsdt_aml)];
	static struct fadt fadt;
	static struct madt madt;
	EFI_ACPI_TABLE_PROTOCOL *acpi = NULL;
	UINTN n;
	UINT8 io_id;

	if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &acpi_table_guid, NULL,
					(void **)&acpi))) {
		Print(L"acpi-bochs: no ACPI tables and no EFI_ACPI_TABLE_PROTOCOL: Linux will "
		      L"see one CPU and cannot power off\n");
		return;
	}

	/* FACS: no header checksum; the protocol places it 64-byte aligned. */
	ZeroMem(&facs, sizeof(facs));
	CopyMem(facs.signature, "FACS", 4);
	facs.length = sizeof(facs);
	facs.version = 2;
	if (EFI_ERROR(uefi_call_wrapper(acpi->InstallAcpiTable, 4, acpi, &facs, sizeof(facs), &n))) {
		Print(L"acpi-bochs: installing the FACS failed\n");
		return;
	}

	header((struct acpi_header *)dsdt, "DSDT", sizeof(dsdt), 2);
	CopyMem(dsdt + sizeof(struct acpi_header), (VOID *)dsdt_aml, sizeof(dsdt_aml));
	if (EFI_ERROR(install(acpi, dsdt, "DSDT")))
		return;

	ZeroMem(&fadt, sizeof(fadt));
	header(&fadt.h, "FACP", sizeof(fadt), 3);
	fadt.sci_int = SCI_IRQ;
	fadt.pm1a_evt_blk = PM_BASE;		/* PM1 status, enable */
	fadt.pm1a_cnt_blk = PM_BASE + 4;	/* PM1 control: SLP_TYP, SLP_EN */
	fadt.pm_tmr_blk = PM_BASE + 8;		/* 24-bit, 3.579545 MHz */
	fadt.pm1_evt_len = 4;
	fadt.pm1_cnt_len = 2;
	fadt.pm_tmr_len = 4;
	fadt.p_lvl2_lat = 0x0fff;		/* no C2 */
	fadt.p_lvl3_lat = 0x0fff;		/* no C3 */
	fadt.century = 0x32;			/* CMOS century byte */
	fadt.iapc_boot_arch = BOOT_ARCH_LEGACY | BOOT_ARCH_8042;
	fadt.flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON;
	if (EFI_ERROR(install(acpi, &fadt, "FADT")))
		return;

	ZeroMem(&madt, sizeof(madt));
	io_id = ioapic_id();
	n = cpus(madt.lapic);
	header(&madt.h.h, "APIC", offsetof(struct madt, lapic) + n * sizeof(madt.lapic[0]), 3);
	madt.h.lapic_address = LAPIC_BASE;
	madt.h.flags = 1;
	madt.ioapic = (struct madt_ioapic){ 1, sizeof(madt.ioapic), io_id, 0, IOAPIC_BASE, 0 };
	madt.irq0 = (struct madt_override){ 2, sizeof(madt.irq0), 0, 0, 2, 0 };
	madt.sci = (struct madt_override){ 2, sizeof(madt.sci), 0, SCI_IRQ, SCI_IRQ, 0x000d };
	madt.nmi = (struct madt_lapic_nmi){ 4, sizeof(madt.nmi), 0xff, 0, 1 };
	if (EFI_ERROR(install(acpi, &madt, "MADT")))
		return;
	Print(L"acpi-bochs: the firmware had no ACPI tables: installed FACS, DSDT (\\_S5), FADT "
	      L"(PM block 0x%x), MADT (%d CPUs, IOAPIC id %d)\n", PM_BASE, n, io_id);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	VOID *rsdp;

	InitializeLib(image, st);
	if (EFI_ERROR(LibGetSystemConfigurationTable(&acpi20_guid, &rsdp)) &&
	    EFI_ERROR(LibGetSystemConfigurationTable(&acpi10_guid, &rsdp)))
		install_tables();
	else
		Print(L"acpi-bochs: the firmware has ACPI tables: nothing to add\n");
	efi_chain(image, EFI_CHAIN_HVMETAL, L"acpi-bochs");
	return EFI_SUCCESS;
}
