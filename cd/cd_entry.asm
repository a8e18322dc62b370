; VM exits of the control domain, and its launch. On exit the CPU loads RSP with
; this CPU's exit stack (8 below a 16-byte boundary) and RIP with cd_exit_entry.
;
; A VMCALL, the hot path, saves only the registers C code may clobber: the
; hypercall ABI lives in those, and C preserves the rest by itself. Every other
; exit saves all GPRs as a struct gpr_frame for handlers that read or change any.
bits 64
%include "kernel/gpr.inc"
default rel
section .text

extern cd_exit_dispatch
extern cd_exit_tail
extern hypercall_fast
extern cd_resume_failed

VMCS_EXIT_REASON	equ 0x4402
EXIT_REASON_VMCALL	equ 18

%macro SAVE_VOLATILE 0
	mov [rsp + G_RAX], rax
	mov [rsp + G_RCX], rcx
	mov [rsp + G_RDX], rdx
	mov [rsp + G_RSI], rsi
	mov [rsp + G_RDI], rdi
	mov [rsp + G_R8], r8
	mov [rsp + G_R9], r9
	mov [rsp + G_R10], r10
	mov [rsp + G_R11], r11
%endmacro

%macro RESTORE_VOLATILE 0
	mov rax, [rsp + G_RAX]
	mov rcx, [rsp + G_RCX]
	mov rdx, [rsp + G_RDX]
	mov rsi, [rsp + G_RSI]
	mov rdi, [rsp + G_RDI]
	mov r8, [rsp + G_R8]
	mov r9, [rsp + G_R9]
	mov r10, [rsp + G_R10]
	mov r11, [rsp + G_R11]
%endmacro

%macro SAVE_NONVOLATILE 0
	mov [rsp + G_RBX], rbx
	mov [rsp + G_RBP], rbp
	mov [rsp + G_R12], r12
	mov [rsp + G_R13], r13
	mov [rsp + G_R14], r14
	mov [rsp + G_R15], r15
%endmacro

%macro RESTORE_NONVOLATILE 0
	mov rbx, [rsp + G_RBX]
	mov rbp, [rsp + G_RBP]
	mov r12, [rsp + G_R12]
	mov r13, [rsp + G_R13]
	mov r14, [rsp + G_R14]
	mov r15, [rsp + G_R15]
%endmacro

global cd_exit_entry
cd_exit_entry:
	sub rsp, G_SIZE
	SAVE_VOLATILE
	mov rdi, rsp
	mov eax, VMCS_EXIT_REASON
	vmread rax, rax			; a failure leaves the generic path to report it
	cmp eax, EXIT_REASON_VMCALL
	jne .full
	call hypercall_fast
	test eax, eax
	jnz .tail
.resume:
	RESTORE_VOLATILE
	add rsp, G_SIZE
	vmresume
	; Only reached when VMRESUME fails: report with the guest's registers.
	sub rsp, G_SIZE
	SAVE_VOLATILE
	SAVE_NONVOLATILE
	mov rdi, rsp
	call cd_resume_failed		; does not return

.full:
	SAVE_NONVOLATILE
	call cd_exit_dispatch
	jmp .resume_all
.tail:
	; The callee-saved registers still hold the guest's: the tail gets them all.
	SAVE_NONVOLATILE
	mov rdi, rsp
	call cd_exit_tail
.resume_all:
	RESTORE_NONVOLATILE
	jmp .resume

; int cd_vmlaunch_regs(const struct gpr_frame *g): VMLAUNCH with the control domain's
; GPRs taken from g (a parked AP started from its INIT state: cd_park.c); returns as
; cd_vmlaunch does, with the callee-saved registers kept.
global cd_vmlaunch_regs
cd_vmlaunch_regs:
	PUSH_CALLEE_SAVED
	LOAD_GPRS_FROM_RDI
	vmlaunch
	mov eax, 1
	jc .failed
	mov eax, 2
.failed:
	POP_CALLEE_SAVED
	ret

; int cd_vmlaunch(void): returns 1 on VMfailInvalid, 2 on VMfailValid; on success the
; CPU continues in the guest at the VMCS's guest RIP.
global cd_vmlaunch
cd_vmlaunch:
	vmlaunch
	mov eax, 1
	jc .out
	mov eax, 2
.out:
	ret

section .note.GNU-stack noalloc noexec nowrite progbits
