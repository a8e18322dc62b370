/* The control domain's exits: what hvmetal virtualizes for the firmware and the OS. */
#ifndef HVMETAL_CD_EXITS_H
#define HVMETAL_CD_EXITS_H

#include <stdint.h>
#include "vmx/vmx_exit.h"

#define CD_VPID		1	/* the control domain's TLB tag; guests get 2 and up */

/* CR0/CR4 guest/host masks: the bits VMX forces, shown to the guest as it wrote them. */
void cd_write_cr_masks(void);
void cd_write_cr0(uint64_t val);
void cd_write_cr4(uint64_t val);

enum exit_action cd_exit_triple_fault(struct vmx_exit *ex);
enum exit_action cd_exit_init(struct vmx_exit *ex);
/* Gives this CPU its INIT state and parks it until a start-up IPI (cd_apic.h). */
void cd_init_and_wait_sipi(struct gpr_frame *gpr);
enum exit_action cd_exit_task_switch(struct vmx_exit *ex);
enum exit_action cd_exit_cpuid(struct vmx_exit *ex);
enum exit_action cd_exit_invd(struct vmx_exit *ex);
enum exit_action cd_exit_inject_ud(struct vmx_exit *ex);
enum exit_action cd_exit_cr_access(struct vmx_exit *ex);
enum exit_action cd_exit_xsetbv(struct vmx_exit *ex);

/* Every exit of the control domain but VMCALL (cd_entry.asm): its handler, from a table. */
void cd_exit_dispatch(struct gpr_frame *gpr);
/* An INIT to take or an NMI to give (percpu_work_pending), on the full frame. */
void cd_exit_tail(struct gpr_frame *gpr);
void cd_resume_failed(struct gpr_frame *gpr) __attribute__((noreturn));

#endif
