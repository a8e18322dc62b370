; Entering a guest vCPU and coming back from it (vcpu_run.c).
bits 64
%include "kernel/gpr.inc"
default rel
section .text

VMCS_HOST_RSP	equ 0x6c14

; int vcpu_enter(struct gpr_frame *g, uint32_t launched)
; Runs the guest with the GPRs in *g (RSP is in the VMCS) until a VM exit, which
; comes back through vcpu_exit_entry with the guest's GPRs stored in *g: returns 0.
; A failed VMLAUNCH/VMRESUME returns 1 (VMfailInvalid) or 2 (VMfailValid).
global vcpu_enter
vcpu_enter:
	PUSH_CALLEE_SAVED
	push rdi			; g, found at [HOST_RSP] on exit
	mov eax, VMCS_HOST_RSP
	vmwrite rax, rsp
	test esi, esi			; MOVs below keep the flags
	LOAD_GPRS_FROM_RDI
	jnz .resume
	vmlaunch
	jmp .failed
.resume:
	vmresume
.failed:
	mov eax, 1
	jc .out
	mov eax, 2
.out:
	add rsp, 8
	POP_CALLEE_SAVED
	ret

; VMCS host RIP of every vCPU: RSP is what vcpu_enter left in HOST_RSP.
global vcpu_exit_entry
vcpu_exit_entry:
	push rdi
	mov rdi, [rsp + 8]
	mov [rdi + G_RAX], rax
	mov [rdi + G_RBX], rbx
	mov [rdi + G_RCX], rcx
	mov [rdi + G_RDX], rdx
	mov [rdi + G_RSI], rsi
	mov [rdi + G_RBP], rbp
	mov [rdi + G_R8], r8
	mov [rdi + G_R9], r9
	mov [rdi + G_R10], r10
	mov [rdi + G_R11], r11
	mov [rdi + G_R12], r12
	mov [rdi + G_R13], r13
	mov [rdi + G_R14], r14
	mov [rdi + G_R15], r15
	pop qword [rdi + G_RDI]
	add rsp, 8
	POP_CALLEE_SAVED
	xor eax, eax
	ret

section .note.GNU-stack noalloc noexec nowrite progbits
