; Real-mode guest programs for hvtest's vCPU checks. Each is copied to guest-physical
; 0x1000 and run from there with CS = DS = 0. Data the tests look at lives at
; 0x2000-0x2fff (mapped) and 0x9000 (never mapped).
bits 16
section .rodata

%macro GUEST 1
global %1, %1_end
%1:
%endmacro

; OUT, CPUID, HLT, each one exit.
GUEST guest_exits
	mov dx, 0xe9
	mov al, 'A'
	out dx, al
	xor eax, eax
	cpuid
	hlt
	jmp $
guest_exits_end:

; Spins, counting in 0x2000, until forced out.
GUEST guest_spin
	inc dword [0x2000]
	jmp guest_spin
guest_spin_end:

; SSE state: loads XMM7 from 0x2100, OUT, stores XMM1 to 0x2200, OUT.
GUEST guest_sse
	movdqu xmm7, [0x2100]
	out 0xe9, al
	movdqu [0x2200], xmm1
	out 0xe9, al
	hlt
guest_sse_end:

; A native MSR written by the guest, then an MSR that exits.
GUEST guest_msr
	mov ecx, 0xc0000102		; KERNEL_GS_BASE
	mov eax, 0x12345678
	xor edx, edx
	wrmsr
	out 0xe9, al
	mov ecx, 0xc0000080		; EFER: not native, exits
	rdmsr
	hlt
guest_msr_end:

; RDTSCP: which TSC_AUX does the guest see?
GUEST guest_tsc_aux
	rdtscp
	hlt
guest_tsc_aux_end:

; A read of a guest-physical page nobody mapped.
GUEST guest_ept
	mov al, [0x9000]
	hlt
guest_ept_end:

; A read from the APIC page the VMM placed at 0x8000.
GUEST guest_apic
	mov eax, [0x8020]
	hlt
guest_apic_end:

; An interrupt with an empty IVT (IDTR limit 0): #GP, #DF, triple fault.
GUEST guest_triple
	int3
	hlt
guest_triple_end:

; What the space shows at 0x2300, one OUT per byte.
GUEST guest_space
	mov al, [0x2300]
	out 0xe9, al
	jmp guest_space
guest_space_end:

; Writes a byte in each of the 16 pages at 0x10000-0x1ffff, round after round,
; counting rounds in 0x2000: the pages another CPU keeps changing.
GUEST guest_touch
	mov ax, 0x1000
.page:
	mov es, ax
	inc byte [es:0x123]
	add ax, 0x100
	cmp ax, 0x2000
	jb .page
	inc dword [0x2000]
	jmp guest_touch
guest_touch_end:

section .note.GNU-stack noalloc noexec nowrite progbits
