; RDMSR and WRMSR that may fault: hvmetal performs an MSR access on the control
; domain's behalf in VMX root, and a #GP there must become the caller's #GP, not
; a panic. host_exception() sends a #GP at either instruction to msr_safe_fault.
bits 64
default rel
section .text

; int msr_safe_read(uint32_t msr, uint64_t *val): 0, or -1 when RDMSR faulted.
global msr_safe_read
global msr_safe_read_insn
msr_safe_read:
	mov ecx, edi
msr_safe_read_insn:
	rdmsr
	shl rdx, 32
	or rax, rdx
	mov [rsi], rax
	xor eax, eax
	ret

; int msr_safe_write(uint32_t msr, uint64_t val): 0, or -1 when WRMSR faulted.
global msr_safe_write
global msr_safe_write_insn
msr_safe_write:
	mov ecx, edi
	mov eax, esi
	mov rdx, rsi
	shr rdx, 32
msr_safe_write_insn:
	wrmsr
	xor eax, eax
	ret

global msr_safe_fault
msr_safe_fault:
	mov eax, -1
	ret

section .note.GNU-stack noalloc noexec nowrite progbits
