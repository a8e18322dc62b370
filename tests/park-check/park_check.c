/*
 * Test harness, not hvmetal (issue 9, defect 8): a machine where hvmetal's
 * launch on CPU 1 fails (build/hvmetal-failap.efi, HVMETAL_TEST_FAIL_CPU). That
 * CPU must sit where the control domain cannot reach it: an NMI, whose gate in
 * each AP's own IDT points at a handler of this app's, must not run it (left in
 * the firmware, the CPU would run it with full memory access). INIT and start-up
 * IPIs to a page of this app's below 1 MiB then start it, from its INIT state,
 * under hvmetal: the code there reads hvmetal's CPUID signature. The app runs
 * twice: first, before hvmetal, it points the APs' NMI gates (an AP's IDT is its
 * own, out of the control domain's sight later), says where in a UEFI variable
 * and starts hvmetal; then, as hvmetal's next image, it sends the IPIs, checks
 * with TAP on COM1 that the control domain still works, and powers off.
 */
#include <efi.h>
#include <efilib.h>
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>
#include "boot/efi_mp.h"
#include "kernel/log.h"
#include "tests/efi-chain/efi_chain.h"
#include "tests/machine/tap.h"

#define MSR_IA32_APIC_BASE	0x1b
#define MSR_X2APIC_ICR		0x830
#define APIC_BASE_X2APIC	(1ull << 10)
#define APIC_ICR_LO		0x300
#define APIC_ICR_HI		0x310
#define ICR_NMI			0x400
#define ICR_INIT_ASSERT		0x4500
#define ICR_SIPI		0x4600
#define MARKER			0x800	/* offset of each page's marker byte */

static EFI_GUID mp_guid = EFI_MP_SERVICES_PROTOCOL_GUID;
/* The NMI handler's page, from the first run to the second. */
static EFI_GUID var_guid = { 0x3c1f5a8e, 0x51d2, 0x4b0e,
			     { 0x9a, 0x61, 0x2f, 0x7d, 0x0b, 0x4e, 0x8c, 0x13 } };
static CHAR16 var_name[] = L"ParkCheckNmiPage";

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static void send_ipi(uint32_t apic_id, uint32_t icr_lo)
{
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
	volatile uint32_t *apic = (volatile uint32_t *)(uintptr_t)(base & ~0xfffull);

	if (base & APIC_BASE_X2APIC) {
		uint64_t v = ((uint64_t)apic_id << 32) | icr_lo;

		__asm__ volatile("wrmsr" : : "c"(MSR_X2APIC_ICR), "a"((uint32_t)v),
				 "d"((uint32_t)(v >> 32)));
		return;
	}
	apic[APIC_ICR_HI / 4] = apic_id << 24;
	apic[APIC_ICR_LO / 4] = icr_lo;
}

/* A page of code below max, its marker byte zero. */
static uint8_t *code_page(EFI_PHYSICAL_ADDRESS max)
{
	EFI_PHYSICAL_ADDRESS p = max;

	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress,
					EfiBootServicesCode, 1, &p)))
		return NULL;
	SetMem((VOID *)(uintptr_t)p, 4096, 0);
	return (uint8_t *)(uintptr_t)p;
}

struct idt_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* On an AP: its NMI gate's offset becomes the handler's; selector, IST and type stay. */
static VOID EFIAPI point_nmi_gate(VOID *handler)
{
	struct idt_ptr idtr;
	volatile uint8_t *gate;
	uint64_t h = (uintptr_t)handler;

	__asm__ volatile("sidt %0" : "=m"(idtr));
	gate = (volatile uint8_t *)(uintptr_t)(idtr.base + 2 * 16);
	gate[0] = h;
	gate[1] = h >> 8;
	gate[6] = h >> 16;
	gate[7] = h >> 24;
	for (unsigned i = 0; i < 4; i++)
		gate[8 + i] = h >> (32 + 8 * i);
}

/* First run: the handler in memory the firmware keeps, every AP's gate on it, then hvmetal. */
static void prepare(EFI_HANDLE image)
{
	/* movabs rax, marker; mov byte [rax], 0x5a; 1: cli; hlt; jmp 1b */
	uint8_t code[] = { 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xc6, 0x00, 0x5a, 0xfa, 0xf4, 0xeb, 0xfc };
	EFI_MP_SERVICES_PROTOCOL *mp = NULL;
	EFI_PHYSICAL_ADDRESS page = 0xffffffffull;
	UINTN total = 1, enabled = 1;
	uint64_t marker;

	if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePages, 4, AllocateMaxAddress,
					EfiRuntimeServicesCode, 1, &page)))
		return;
	SetMem((VOID *)(uintptr_t)page, 4096, 0);
	marker = page + MARKER;
	CopyMem(code + 2, &marker, sizeof(marker));
	CopyMem((VOID *)(uintptr_t)page, code, sizeof(code));
	if (!EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp))) {
		uefi_call_wrapper(mp->GetNumberOfProcessors, 3, mp, &total, &enabled);
		for (UINTN i = 1; i < total; i++)
			uefi_call_wrapper(mp->StartupThisAP, 7, mp, point_nmi_gate, i, NULL, 0,
					  (VOID *)(uintptr_t)page, NULL);
	}
	uefi_call_wrapper(RT->SetVariable, 5, var_name, &var_guid,
			  EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS, sizeof(page), &page);
	Print(L"park-check: %lu APs' NMI gates point at 0x%lx; starting hvmetal\n", (uint64_t)total - 1,
	      (uint64_t)page);
	efi_chain(image, EFI_CHAIN_HVMETAL, L"park-check");
}

static uint32_t parked_apic_id(void)
{
	EFI_MP_SERVICES_PROTOCOL *mp = NULL;
	EFI_PROCESSOR_INFORMATION info;

	if (EFI_ERROR(uefi_call_wrapper(BS->LocateProtocol, 3, &mp_guid, NULL, (void **)&mp)) ||
	    EFI_ERROR(uefi_call_wrapper(mp->GetProcessorInfo, 3, mp, 1, &info)))
		return 1;
	return (uint32_t)info.ProcessorId;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	/* Real mode at vector:0: mov eax, 0x40000000; cpuid; mov [cs:MARKER], ebx; 1: cli; hlt; jmp 1b */
	static const uint8_t sipi_code[] = { 0x66, 0xb8, 0x00, 0x00, 0x00, 0x40, 0x0f, 0xa2,
					     0x2e, 0x66, 0x89, 0x1e, MARKER & 0xff, MARKER >> 8,
					     0xfa, 0xf4, 0xeb, 0xfc };
	EFI_PHYSICAL_ADDRESS nmi_page = 0;
	UINTN size = sizeof(nmi_page);
	uint8_t *sipi_page;
	uint32_t id;

	InitializeLib(image, st);
	if (EFI_ERROR(uefi_call_wrapper(RT->GetVariable, 5, var_name, &var_guid, NULL, &size,
					&nmi_page))) {
		prepare(image);
		log_printf("park-check: could not start hvmetal\n");
		goto out;
	}
	if (!tap_ok(hvmetal_present(), "hvmetal runs (CPUID signature) with CPU 1's launch failed"))
		goto out;
	id = parked_apic_id();
	sipi_page = code_page(0x9ffff);
	if (!tap_ok(sipi_page != NULL, "a page below 1 MiB for the start-up IPI"))
		goto out;
	CopyMem(sipi_page, (VOID *)sipi_code, sizeof(sipi_code));

	send_ipi(id, ICR_NMI);
	uefi_call_wrapper(BS->Stall, 1, 100000);
	tap_ok(((volatile uint8_t *)(uintptr_t)nmi_page)[MARKER] == 0,
	       "an NMI to the parked CPU (APIC ID %u) runs no handler of the control domain's", id);

	send_ipi(id, ICR_INIT_ASSERT);
	uefi_call_wrapper(BS->Stall, 1, 10000);
	send_ipi(id, ICR_SIPI | (uint32_t)((uintptr_t)sipi_page >> 12));
	uefi_call_wrapper(BS->Stall, 1, 200);
	send_ipi(id, ICR_SIPI | (uint32_t)((uintptr_t)sipi_page >> 12));
	for (unsigned ms = 0; ms < 1000 && !*(volatile uint32_t *)(sipi_page + MARKER); ms++)
		uefi_call_wrapper(BS->Stall, 1, 1000);
	tap_ok(*(volatile uint32_t *)(sipi_page + MARKER) == HVMETAL_CPUID_SIG_EBX,
	       "INIT and start-up IPIs start the parked CPU under hvmetal (its CPUID EBX %x)",
	       *(volatile uint32_t *)(sipi_page + MARKER));

	tap_ok(hv_vm_create(HV_VM_DEFAULT) == HV_SUCCESS && hv_vm_destroy() == HV_SUCCESS,
	       "the control domain still creates and destroys a VM");
out:
	log_printf("park-check: %u failed\n", tap_done());
	log_flush();
	uefi_call_wrapper(RT->ResetSystem, 4, EfiResetShutdown, EFI_SUCCESS, 0, NULL);
	return EFI_SUCCESS;
}
