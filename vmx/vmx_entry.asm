; VM exit entry and VM launch. On exit the CPU loads RSP with this CPU's exit stack
; and RIP with vmx_exit_entry; the guest's GPRs are saved as a struct gpr_frame.
bits 64
default rel
section .text

extern vmx_exit_dispatch
extern vmx_resume_failed

global vmx_exit_entry
vmx_exit_entry:
	push r15
	push r14
	push r13
	push r12
	push r11
	push r10
	push r9
	push r8
	push rbp
	push rdi
	push rsi
	push rdx
	push rcx
	push rbx
	push rax
	mov rdi, rsp
	sub rsp, 8		; 15 pushes: realign to 16 for the call
	cld
	call vmx_exit_dispatch
	add rsp, 8
	pop rax
	pop rbx
	pop rcx
	pop rdx
	pop rsi
	pop rdi
	pop rbp
	pop r8
	pop r9
	pop r10
	pop r11
	pop r12
	pop r13
	pop r14
	pop r15
	vmresume
	; Only reached when VMRESUME fails: report with the guest's registers.
	push r15
	push r14
	push r13
	push r12
	push r11
	push r10
	push r9
	push r8
	push rbp
	push rdi
	push rsi
	push rdx
	push rcx
	push rbx
	push rax
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
