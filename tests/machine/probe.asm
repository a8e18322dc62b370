; trap_call and the exception handlers behind it (see trap.h). A caught fault
; abandons fn: the handler restores trap_call's stack and returns the vector.
bits 64
%include "kernel/gpr.inc"
default rel
section .text

global trap_call
global trap_handler_ud
global trap_handler_gp
global trap_handler_pf
global trap_handler_nmi
global trap_nmi_count

; int trap_call(void (*fn)(void *), void *arg)
trap_call:
	PUSH_CALLEE_SAVED
	pushfq			; a caught fault leaves IF clear: popfq restores it
	mov [trap_rsp], rsp
	mov rax, rdi
	mov rdi, rsi
	call rax		; 7 pushes + return address: aligned
	mov eax, -1
trap_out:
	popfq
	POP_CALLEE_SAVED
	ret

%macro HANDLER 2
trap_handler_%1:
	mov rsp, [trap_rsp]
	mov eax, %2
	jmp trap_out
%endmacro
HANDLER ud, 6
HANDLER gp, 13
HANDLER pf, 14

; NMIs the control domain receives while the suite's IDT is in place: counted.
trap_handler_nmi:
	lock inc qword [trap_nmi_count]
	iretq

section .bss
trap_rsp: resq 1
trap_nmi_count: resq 1

section .note.GNU-stack noalloc noexec nowrite progbits
