/* EFI_MP_SERVICES_PROTOCOL (UEFI PI spec vol. 2): gnu-efi does not ship it. */
#ifndef HVMETAL_EFI_MP_H
#define HVMETAL_EFI_MP_H

#include <efi.h>

#define EFI_MP_SERVICES_PROTOCOL_GUID \
	{ 0x3fdda605, 0xa76e, 0x4f46, { 0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08 } }

typedef struct _EFI_MP_SERVICES_PROTOCOL EFI_MP_SERVICES_PROTOCOL;
typedef VOID (EFIAPI *EFI_AP_PROCEDURE)(VOID *arg);

typedef struct {
	UINT64 ProcessorId;
	UINT32 StatusFlag;
	struct { UINT32 Package, Core, Thread; } Location;
} EFI_PROCESSOR_INFORMATION;

struct _EFI_MP_SERVICES_PROTOCOL {
	EFI_STATUS (EFIAPI *GetNumberOfProcessors)(EFI_MP_SERVICES_PROTOCOL *self,
						   UINTN *total, UINTN *enabled);
	EFI_STATUS (EFIAPI *GetProcessorInfo)(EFI_MP_SERVICES_PROTOCOL *self, UINTN n,
					      EFI_PROCESSOR_INFORMATION *info);
	EFI_STATUS (EFIAPI *StartupAllAPs)(EFI_MP_SERVICES_PROTOCOL *self, EFI_AP_PROCEDURE proc,
					   BOOLEAN single_thread, EFI_EVENT wait_event,
					   UINTN timeout_us, VOID *arg, UINTN **failed_cpus);
	EFI_STATUS (EFIAPI *StartupThisAP)(EFI_MP_SERVICES_PROTOCOL *self, EFI_AP_PROCEDURE proc,
					   UINTN cpu, EFI_EVENT wait_event, UINTN timeout_us,
					   VOID *arg, BOOLEAN *finished);
	EFI_STATUS (EFIAPI *SwitchBSP)(EFI_MP_SERVICES_PROTOCOL *self, UINTN cpu, BOOLEAN enable_old);
	EFI_STATUS (EFIAPI *EnableDisableAP)(EFI_MP_SERVICES_PROTOCOL *self, UINTN cpu,
					     BOOLEAN enable, UINT32 *health);
	EFI_STATUS (EFIAPI *WhoAmI)(EFI_MP_SERVICES_PROTOCOL *self, UINTN *cpu);
};

#endif
