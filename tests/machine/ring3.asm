; uint64_t ring3_vmcall_asm(uint64_t nr, uint64_t a0, uint64_t a1, struct ring3_env *env)
;
; Drops to CPL 3 on the environment ring3.c built (its GDT, TSS, IDT, page tables),
; executes VMCALL there, comes back through INT 0x80 and restores the firmware's
; GDT, IDT, CR3, segments and TR. Returns RAX as the VMCALL left it.
bits 64
%include "kernel/gpr.inc"
default rel
section .text

KCODE	equ 0x08
KDATA	equ 0x10
UDATA	equ 0x18 | 3
UCODE	equ 0x20 | 3
TSSSEL	equ 0x28

; struct ring3_env offsets (ring3.c)
ENV_GDTR	equ 0
ENV_IDTR	equ 16
ENV_CR3		equ 32
ENV_USTACK	equ 40

global ring3_vmcall_asm
global ring3_int80
ring3_vmcall_asm:
	PUSH_CALLEE_SAVED
	mov [saved_rsp], rsp
	sgdt [fw_gdtr]
	sidt [fw_idtr]
	mov rax, cr3
	mov [fw_cr3], rax
	str word [fw_tr]
	mov [fw_cs], cs
	mov [fw_ss], ss
	mov [fw_ds], ds
	mov [fw_es], es
	mov r12, rdi			; nr
	mov r13, rsi			; a0
	mov r14, rdx			; a1
	lgdt [rcx + ENV_GDTR]
	lidt [rcx + ENV_IDTR]
	mov rax, [rcx + ENV_CR3]
	mov cr3, rax
	mov rbx, [rcx + ENV_USTACK]
	push KCODE
	lea rax, [.kernel_cs]
	push rax
	retfq
.kernel_cs:
	mov ax, KDATA
	mov ss, ax
	mov ds, ax
	mov es, ax
	mov ax, TSSSEL
	ltr ax
	push UDATA
	push rbx
	push 2				; RFLAGS: interrupts stay off at CPL 3
	push UCODE
	lea rax, [.user]
	push rax
	mov rax, r12
	mov rdi, r13
	mov rsi, r14
	iretq
.user:
	vmcall
	int 0x80
	ud2

; INT 0x80 from CPL 3 lands here on the TSS stack: back to the firmware's world.
ring3_int80:
	mov rsp, [saved_rsp]
	mov r12, rax			; the VMCALL's result
	lgdt [fw_gdtr]
	movzx rax, word [fw_cs]
	push rax
	lea rax, [.fw_cs]
	push rax
	retfq
.fw_cs:
	mov ss, [fw_ss]
	mov ds, [fw_ds]
	mov es, [fw_es]
	lidt [fw_idtr]
	mov rax, [fw_cr3]
	mov cr3, rax
	movzx eax, word [fw_tr]
	test eax, eax
	jz .no_tr
	mov rdx, [fw_gdtr + 2]		; clear the busy bit so LTR accepts the firmware's TSS
	and byte [rdx + rax + 5], ~2
	ltr ax
.no_tr:
	mov rax, r12
	POP_CALLEE_SAVED
	ret

section .bss
saved_rsp:	resq 1
fw_gdtr:	resb 16
fw_idtr:	resb 16
fw_cr3:		resq 1
fw_tr:		resw 1
fw_cs:		resw 1
fw_ss:		resw 1
fw_ds:		resw 1
fw_es:		resw 1

section .note.GNU-stack noalloc noexec nowrite progbits
