; mbsmp: the Multiboot VMM's SMP and interrupt test kernel (run with -smp 2
; -cpu xapic). From 32-bit protected mode, paging off: the xAPIC page read
; and written by MOVs the VMM decodes, the AP started by INIT and SIPI
; through the ICR (its real-mode trampoline counts in), the IOAPIC
; programmed through its page and a pc-testdev line delivering its vector,
; an IPI to the AP, KVM's send-IPI hypercall, a hole below 4 GiB reading
; all-ones, x2APIC refused where CPUID has none. TAP on COM1.
bits 32

MB_MAGIC	equ 0x1badb002
EXIT_PORT	equ 0xf4
APIC		equ 0xfee00000
IOAPIC		equ 0xfec00000
TRAMPOLINE	equ 0x8000		; SIPI vector 8
AP_COUNT	equ 0x7000		; the AP's trampoline and handler count here
VEC_IOAPIC	equ 0x40
SPIN		equ 20000000

section .text
align 4
	dd MB_MAGIC, 0, -MB_MAGIC

global start
start:
	mov esp, stack_top
	lgdt [gdt_ptr]
	jmp 0x08:.flat
.flat:	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	call idt_setup
	call uart_init
	mov esi, s_hello
	call puts

	; 1: the xAPIC ID register (mov eax, [moffs32]) and version (mov ecx, [abs32])
	mov eax, [APIC + 0x20]
	mov ecx, [APIC + 0x30]
	shr eax, 24
	test eax, eax
	sete al
	and ecx, 0xff
	cmp ecx, 0x14
	sete cl
	and al, cl
	mov esi, s_apic_id
	call check

	; 2: software-enable (mov dword [m], imm32), read back (mov edx, [m])
	mov dword [APIC + 0xf0], 0x1ff
	mov edx, [APIC + 0xf0]
	cmp edx, 0x1ff
	sete al
	mov esi, s_svr
	call check

	; 3: INIT and SIPI to APIC ID 1; its trampoline counts in
	mov esi, trampoline
	mov edi, TRAMPOLINE
	mov ecx, trampoline_end - trampoline
	rep movsb
	mov dword [AP_COUNT], 0
	mov eax, 0x4500				; INIT, assert
	call icr_send
	mov eax, 0x4608				; STARTUP, vector 8: the same MOV (the load-store cache's)
	call icr_send
	mov ecx, SPIN
.wait_ap:
	cmp dword [AP_COUNT], 1
	je .ap_in
	pause
	loop .wait_ap
.ap_in:	cmp dword [AP_COUNT], 1
	sete al
	mov esi, s_sipi
	call check

	; 4: IOAPIC pin 5 -> vector 0x40, edge, APIC ID 0 (its page: IOREGSEL, IOWIN); pc-testdev raises line 5
	mov dword [IOAPIC], 0x10 + 2 * 5 + 1
	mov dword [IOAPIC + 0x10], 0
	mov dword [IOAPIC], 0x10 + 2 * 5
	mov dword [IOAPIC + 0x10], VEC_IOAPIC
	mov dword [IOAPIC], 0x10 + 2 * 5
	mov eax, [IOAPIC + 0x10]
	cmp eax, VEC_IOAPIC
	sete bl
	mov byte [ioapic_seen], 0
	sti
	mov dx, 0x2005
	mov al, 1
	out dx, al
	mov ecx, SPIN
.wait_irq:
	cmp byte [ioapic_seen], 0
	jne .irq_in
	pause
	loop .wait_irq
.irq_in:
	cli
	mov al, 0
	out dx, al
	mov al, [ioapic_seen]
	and al, bl
	mov esi, s_ioapic
	call check

	; 5: an NMI IPI to the AP, idle in its trampoline's HLT (its APIC is still
	; software-disabled after INIT: it takes NMIs, not fixed vectors): its handler counts
	mov eax, 0x400				; NMI
	call icr_send
	mov ecx, SPIN
.wait_ipi:
	cmp dword [AP_COUNT], 2
	je .ipi_in
	pause
	loop .wait_ipi
.ipi_in:
	cmp dword [AP_COUNT], 2
	sete al
	mov esi, s_ipi
	call check

	; 6: KVM's send-IPI hypercall: an NMI to the set {APIC ID 1}; one sent, the AP's handler counts
	mov eax, 10				; KVM_HC_SEND_IPI
	mov ebx, 1 << 1				; the IDs from EDX on: bit 1
	xor ecx, ecx
	xor edx, edx
	mov esi, 0x400				; NMI
	vmcall
	mov edi, eax
	mov ecx, SPIN
.wait_pv:
	cmp dword [AP_COUNT], 3
	je .pv_in
	pause
	loop .wait_pv
.pv_in:
	cmp dword [AP_COUNT], 3
	sete al
	cmp edi, 1
	sete ah
	and al, ah
	mov esi, s_pv_ipi
	call check

	; 7: a hole below 4 GiB (no RAM, no device) reads all-ones
	mov eax, [0xe0000000]
	cmp eax, 0xffffffff
	sete al
	mov esi, s_hole
	call check

	; 8: no x2APIC in CPUID (-cpu xapic): setting EXTD is #GP, the base stays
	mov eax, 1
	cpuid
	bt ecx, 21
	setnc bl
	mov ecx, 0x1b
	rdmsr
	mov edi, eax
	or eax, 0xc00
	mov byte [gp_seen], 0
	wrmsr
	rdmsr
	cmp eax, edi
	sete al
	and al, bl
	and al, [gp_seen]
	mov esi, s_extd
	call check

	mov esi, s_plan
	call puts
	mov eax, [failed]
	test eax, eax
	setnz al
	movzx eax, al
	out EXIT_PORT, eax
	cli
.halt:	hlt
	jmp .halt

; An IPI to APIC ID 1, EAX the ICR's low word: one MOV for every IPI, so the
; VMM's load-store cache completes the later ones (INIT's MOV then SIPI's).
icr_send:
	mov dword [APIC + 0x310], 1 << 24
	mov [APIC + 0x300], eax
	ret

ioapic_isr:
	mov byte [ioapic_seen], 1
	mov dword [APIC + 0xb0], 0		; EOI
	iret

; #GP: note it, step over the 2-byte WRMSR
gp_handler:
	mov byte [gp_seen], 1
	add dword [esp + 4], 2		; past the error code: EIP
	add esp, 4
	iret

; gate VEC, HANDLER: a 32-bit interrupt gate
%macro gate 2
	mov eax, %2
	mov [idt + %1 * 8], ax
	mov word [idt + %1 * 8 + 2], 0x08
	mov word [idt + %1 * 8 + 4], 0x8e00
	shr eax, 16
	mov [idt + %1 * 8 + 6], ax
%endmacro

idt_setup:
	gate 13, gp_handler
	gate VEC_IOAPIC, ioapic_isr
	lidt [idt_ptr]
	ret

; The AP, in real mode at 0x800:0: counts in, then idles until an NMI (the
; IVT entry of vector 2 it sets), whose handler counts again.
bits 16
trampoline:
	xor ax, ax
	mov ds, ax
	lock inc dword [AP_COUNT]
	mov word [2 * 4], TRAMPOLINE + (ap_isr - trampoline)
	mov word [2 * 4 + 2], 0
.idle:	sti
	hlt
	jmp .idle
ap_isr:
	lock inc dword [AP_COUNT]
	iret
trampoline_end:
bits 32

%include "tests/mbvmm/tap.inc"

section .rodata
s_hello:	db "# mbsmp: SMP, the xAPIC page, the IOAPIC under mbvmm", 10, 0
s_apic_id:	db "the xAPIC page through the VMM's decoding: ID 0, version 0x14", 0
s_svr:		db "a store of an immediate to SVR reads back", 0
s_sipi:		db "INIT and SIPI through the ICR start the AP in its trampoline", 0
s_ioapic:	db "IOAPIC entry written and read through its page; pc-testdev line 5 arrives as vector 0x40", 0
s_ipi:		db "an NMI IPI wakes the AP idle in HLT, its handler runs", 0
s_pv_ipi:	db "KVM's send-IPI VMCALL: an NMI to APIC ID 1 reaches the AP, RAX = 1 sent", 0
s_hole:		db "a hole below 4 GiB reads all-ones", 0
s_extd:		db "without x2APIC in CPUID, WRMSR of IA32_APIC_BASE.EXTD is #GP and the base stays", 0
s_plan:		db "1..8", 10, 0

section .data
align 8
gdt:	dq 0
	dq 0x00cf9a000000ffff		; 0x08: 32-bit code
	dq 0x00cf92000000ffff		; 0x10: data
gdt_ptr:
	dw 3 * 8 - 1
	dd gdt
idt_ptr:
	dw 256 * 8 - 1
	dd idt

section .bss
alignb 8
idt:	resb 256 * 8
ioapic_seen:	resb 1
gp_seen:	resb 1
alignb 16
	resb 8192
stack_top:
