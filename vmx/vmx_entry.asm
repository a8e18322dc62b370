; VM exit entry and VM launch. On exit the CPU loads RSP with this CPU's exit stack
; and RIP with vmx_exit_entry; the guest's GPRs are saved as a struct gpr_frame.
bits 64
%include "kernel/gpr.inc"
default rel
section .text

extern vmx_exit_dispatch
extern vmx_resume_failed

global vmx_exit_entry
vmx_exit_entry:
	PUSH_GPRS
	mov rdi, rsp
	sub rsp, 8		; 15 pushes: realign to 16 for the call
	cld
	call vmx_exit_dispatch
	add rsp, 8
	POP_GPRS
	vmresume
	; Only reached when VMRESUME fails: report with the guest's registers.
	PUSH_GPRS
	mov rdi, rsp
	sub rsp, 8
	call vmx_resume_failed	; does not return

; int vmx_launch(void): returns 1 on VMfailInvalid, 2 on VMfailValid; on success the
; CPU continues in the guest at the VMCS's guest RIP.
global vmx_launch
vmx_launch:
	vmlaunch
	mov eax, 1
	jc .out
	mov eax, 2
.out:
	ret

section .note.GNU-stack noalloc noexec nowrite progbits
