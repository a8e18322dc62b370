; Host exception entry: every vector 0..31 lands in host_exception() with a full
; register frame (struct exc_frame in panic.h). Only NMI returns from there.
bits 64
%include "kernel/gpr.inc"
default rel
section .text

extern host_exception

%macro EXC_STUB 1
exc_stub_%1:
%if %1 != 8 && %1 != 10 && %1 != 11 && %1 != 12 && %1 != 13 && %1 != 14 && %1 != 17 && %1 != 21
	push 0			; no error code: keep the frame uniform
%endif
	push %1
	jmp exc_common
%endmacro

%assign v 0
%rep 32
EXC_STUB v
%assign v v + 1
%endrep

exc_common:
	PUSH_GPRS
	mov rdi, rsp
	mov rbx, rsp
	and rsp, -16
	cld
	call host_exception
	mov rsp, rbx
	POP_GPRS
	add rsp, 16		; vector and error code
	iretq

section .data
global host_exception_stubs
host_exception_stubs:
%assign v 0
%rep 32
	dq exc_stub_ %+ v
%assign v v + 1
%endrep

section .note.GNU-stack noalloc noexec nowrite progbits
