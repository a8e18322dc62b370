/*
 * Test harness, not hvmetal: hvmetal started on a machine whose firmware left
 * every CPU's local APIC in x2APIC mode (issue 9: a boot CPU in x2APIC mode).
 * Bochs's firmware starts them in xAPIC mode, so this app turns EXTD on for
 * the boot CPU and each AP (through the MP services, which follow the mode),
 * says how many now run in x2APIC mode, and starts \EFI\hvmetal\hvmetal.efi
 * from its own device.
 */
#include <efi.h>
#include <efilib.h>
#include "boot/efi_mp.h"
#include "tests/efi-chain/efi_chain.h"

#define MSR_IA32_APIC_BASE	0x1b
#define APIC_BASE_X2APIC	(1ull << 10)
#define APIC_BASE_ENABLE	(1ull << 11)
#define CPUID1_ECX_X2APIC	(1u << 21)

static EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static BOOLEAN has_x2apic(void)
{
	uint32_t a = 1, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (c & CPUID1_ECX_X2APIC) != 0;
}

/* xAPIC to x2APIC is a legal transition from enabled xAPIC mode (SDM 11.12.5). */
static VOID EFIAPI to_x2apic(VOID *arg)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);

	if (has_x2apic() && (base & APIC_BASE_ENABLE) && !(base & APIC_BASE_X2APIC))
		wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_X2APIC);
	if (rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_X2APIC)
		__atomic_add_fetch((volatile UINTN *)arg, 1, __ATOMIC_SEQ_CST);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	EFI_MP_SERVICES_PROTOCOL *mp = NULL;
	UINTN total = 1, enabled = 1, on = 0;

	InitializeLib(image, st);
	to_x2apic(&on);
	if (!EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp))) {
		uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &total, &enabled);
		if (total > 1)
			uefi_call_wrapper(mp->StartupAllAPs, 7, mp, to_x2apic, FALSE, NULL, 0, &on, NULL);
	}
	Print(L"x2apic-boot: %lu of %lu CPUs in x2APIC mode\n", (uint64_t)on, (uint64_t)total);
	efi_chain(image, EFI_CHAIN_HVMETAL, L"x2apic-boot");
	return EFI_SUCCESS;
}
