; The example VMM's DOS and long-mode guests, as bytes the VMM copies into guest memory.
; Both talk to the VMM the way small guests do: the DOS program through INT 21h,
; the 64-bit one through an I/O port (0xe9, one byte per OUT), CPUID and MSRs.
section .rodata

%macro GUEST 1
global %1, %1_end
%1:
%endmacro

; ---------------------------------------------------------------------------
; A DOS .COM program. The VMM loads it at offset 0x100 of its segment with
; CS = DS = ES = SS and IP = 0x100, as DOS does. Addresses of its data are
; offsets in that segment: COM(label).
bits 16
%define COM(x) ((x) - dos_com + 0x100)

GUEST dos_com
	mov ah, 0x09			; print the '$'-terminated string at DS:DX
	mov dx, COM(hello)
	int 0x21

	xor eax, eax			; CPUID leaf 0: vendor in EBX, EDX, ECX
	cpuid
	mov [COM(vendor)], ebx
	mov [COM(vendor + 4)], edx
	mov [COM(vendor + 8)], ecx
	mov ah, 0x09
	mov dx, COM(vendor_line)
	int 0x21

	in al, 0x61			; ports nobody emulates: IN reads 0xff
	out 0x80, al
	out 0x80, al			; logged once only

	hlt				; the VMM sees the HLT and lets it go on
	mov ah, 0x09
	mov dx, COM(after_hlt)
	int 0x21

	mov ah, 0x02			; one character: DL
	mov dl, '!'
	int 0x21
	mov dl, 10
	int 0x21

	mov ax, 0x4c00			; exit with code 0
	int 0x21
	jmp $

hello:		db "Hello from a real-mode guest (DOS .COM)", 13, 10, '$'
vendor_line:	db "CPUID vendor: "
vendor:		db "????????????", 13, 10, '$'
after_hlt:	db "real mode: back from HLT, INT 21h AH=02h says", '$'
dos_com_end:

; ---------------------------------------------------------------------------
; A 64-bit guest. The VMM starts it in long mode at 0x8000 with paging on (an
; identity map of the first 4 GiB), a stack, and no IDT.
bits 64
%define SCRATCH_MSR	0x40000000	; in the range reserved for hypervisors
%define UNMAPPED	0x40000000	; a guest-physical address with no memory

GUEST long64
	lea rsi, [rel hello64]
	call puts

	mov eax, 0x40000000		; the hypervisor's CPUID leaf: signature in EBX, ECX, EDX
	cpuid
	lea rdi, [rel signature]
	mov [rdi], ebx
	mov [rdi + 4], ecx
	mov [rdi + 8], edx
	lea rsi, [rel cpuid_line]
	call puts

	mov ecx, SCRATCH_MSR		; an MSR only the VMM has: write it, read it back
	mov edx, 0x12345678
	mov eax, 0x9abcdef0
	wrmsr
	xor eax, eax
	xor edx, edx
	rdmsr
	lea rsi, [rel msr_fail]
	cmp edx, 0x12345678
	jne .msr_done
	cmp eax, 0x9abcdef0
	jne .msr_done
	lea rsi, [rel msr_ok]
.msr_done:
	call puts

	mov rsi, UNMAPPED		; no memory there: an EPT violation. The VMM maps a page
	mov al, [rsi]			; with a line of text and this read runs again.
	call puts

	hlt				; the VMM sees the HLT and lets it go on
	lea rsi, [rel after_hlt64]
	call puts

	lidt [rel no_idt]		; no IDT: #UD cannot be delivered, nor #GP, nor #DF
	ud2				; => triple fault, the VMM's cue to tear down
	jmp $

; Prints the NUL-terminated string at RSI on port 0xe9.
puts:
	mov dx, 0xe9
.next:
	lodsb
	test al, al
	jz .done
	out dx, al
	jmp .next
.done:
	ret

hello64:	db "Hello from a 64-bit long-mode guest", 10, 0
cpuid_line:	db "CPUID 0x40000000: "
signature:	db "????????????", 10, 0
msr_ok:		db "MSR 0x40000000 write/read back: OK", 10, 0
msr_fail:	db "MSR 0x40000000 write/read back: FAIL", 10, 0
after_hlt64:	db "long mode: back from HLT; now a triple fault", 10, 0
align 8
no_idt:		dw 0
		dq 0
long64_end:

%ifidn __OUTPUT_FORMAT__, elf64
section .note.GNU-stack noalloc noexec nowrite progbits
%endif
