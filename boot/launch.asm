; int boot_launch_cpu(launch_fn fn, uint32_t cpu)
;
; Calls fn(cpu, rsp, rip, rflags) - the core's cd_launch - with the state the
; control domain resumes in: this stack and .resume below, in this (firmware-owned)
; image. On success the call never returns: VMLAUNCH lands on .resume in VMX
; non-root mode and boot_launch_cpu returns 0 there. On failure fn returns < 0.
bits 64
%include "kernel/gpr.inc"
default rel
section .text

global boot_launch_cpu
boot_launch_cpu:
	PUSH_CALLEE_SAVED
	pushfq			; 7 pushes + return address: 16-byte aligned
	cli			; no firmware interrupt between capture and launch
	mov rax, rdi
	mov edi, esi		; cpu
	mov rsi, rsp		; guest rsp
	lea rdx, [.resume]	; guest rip
	mov rcx, [rsp]		; guest rflags: as the caller had them
	call rax
	jmp .restore		; eax < 0: the launch failed, VMX is off again
.resume:
	xor eax, eax		; now the control domain, RFLAGS from the VMCS
.restore:
	popfq
	POP_CALLEE_SAVED
	ret

section .note.GNU-stack noalloc noexec nowrite progbits
