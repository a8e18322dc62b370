; The SMP guest's program (guest_smp.c), as bytes the VMM copies to guest-physical
; 0x8000. Two CPUs on a VM with APIC acceleration:
;   cpu 0, the BSP: 32-bit protected mode, flat, its local APIC in xAPIC mode
;     through the APIC page at 0xFEE00000 (every access an exit the VMM completes);
;   cpu 1, the AP: started by cpu 0 with INIT and SIPI (vector 8: 0800:0000), stays
;     in real mode and turns its local APIC to x2APIC mode (MSRs hvmetal handles).
; Each runs its APIC timer periodic until it has TICKS interrupts, sends the other
; one IPI, asks the VMM's fake device (an OUT) for an interrupt through the IOAPIC
; and an MSI, and idles with STI;HLT in between. cpu 1 then says it is done and
; halts with interrupts off; cpu 0 prints both CPUs' counts and does the same.
section .rodata

; ---- shared with guest_smp.c ----
%define CODE		0x8000		; this program; its first byte is the AP's start
%define AP_STACK	0x6000		; real mode, SS = 0
%define BSP_STACK	0x7000
%define CPU0		0x2000		; what each CPU counts: cpu 0's, then cpu 1's
%define CPU1		0x2040
%define READY		0x00		; offsets in a CPU's block, dwords
%define TIMER		0x04
%define IPI		0x08
%define IOAPIC		0x0c
%define MSI		0x10
%define DONE		0x14
%define ID		0x18
%define X2APIC		0x1c
%define IPI_SENT	0x20
%define TICKS		10		; timer interrupts each CPU takes
%define DEVICE_PORT	0xe0		; OUT the APIC ID: "interrupt that CPU"
%define VEC_TIMER	0x30
%define VEC_IPI		0x40
%define VEC_WAKE	0x41		; cpu 1 is done: cpu 0 looks again
%define VEC_IOAPIC	0x50
%define VEC_MSI		0x51
%define VEC_SPURIOUS	0xff

; ---- the architecture's ----
%define TIMER_COUNT	1000000		; bus clocks per period (divide by 1)
%define TIMER_PERIODIC	(1 << 17)
%define APIC		0xfee00000	; the xAPIC page; register offsets:
%define APIC_ID		0x20
%define APIC_EOI	0xb0
%define APIC_SVR	0xf0
%define APIC_ICR_LO	0x300
%define APIC_ICR_HI	0x310
%define APIC_LVT_TIMER	0x320
%define APIC_TIMER_INIT	0x380
%define APIC_TIMER_DIV	0x3e0
%define ICR_INIT	0x4500		; INIT, level, assert
%define ICR_STARTUP	0x4600		; | the start page number
%define MSR_APIC_BASE	0x1b
%define APIC_BASE_EN	(1 << 11)
%define APIC_BASE_EXTD	(1 << 10)
%define X2APIC_MSR(off)	(0x800 + (off) / 16)	; x2APIC MSR of an xAPIC offset
%define X2APIC_ICR	0x830

%define G(x)		((x) - smp_guest + CODE)	; a label's guest address
%define CONSOLE		0xe9

global smp_guest, smp_guest_end, smp_bsp
global smp_bsp_timer, smp_bsp_ipi, smp_bsp_wake, smp_bsp_ioapic, smp_bsp_msi, smp_bsp_spurious
global smp_ap_timer, smp_ap_ipi, smp_ap_ioapic, smp_ap_msi, smp_ap_spurious

; ---------------------------------------------------------------------------
; cpu 1: real mode from 0800:0000, DS = SS = 0.
bits 16
smp_guest:
	xor ax, ax
	mov ds, ax
	mov ss, ax
	mov sp, AP_STACK
	mov ecx, MSR_APIC_BASE		; x2APIC mode: EN | EXTD
	rdmsr
	or eax, APIC_BASE_EN | APIC_BASE_EXTD
	wrmsr
	rdmsr				; and what the APIC says it is now
	shr eax, 10
	and eax, 1
	mov [CPU1 + X2APIC], eax
	mov ecx, X2APIC_MSR(APIC_ID)	; a 32-bit ID in x2APIC mode
	rdmsr
	mov [CPU1 + ID], eax
	xor edx, edx
	mov ecx, X2APIC_MSR(APIC_SVR)	; software-enabled: from now on it takes interrupts
	mov eax, 0x100 | VEC_SPURIOUS
	wrmsr
	mov dword [CPU1 + READY], 1
	mov ecx, X2APIC_MSR(APIC_TIMER_DIV)
	mov eax, 0xb			; divide by 1
	wrmsr
	mov ecx, X2APIC_MSR(APIC_LVT_TIMER)
	mov eax, TIMER_PERIODIC | VEC_TIMER
	wrmsr
	mov ecx, X2APIC_MSR(APIC_TIMER_INIT)
	mov eax, TIMER_COUNT
	wrmsr
	mov ecx, X2APIC_ICR		; one IPI to cpu 0 (EDX: destination 0), ready already
	mov eax, VEC_IPI
	wrmsr
	mov al, 1			; the device: an interrupt for APIC ID 1, please
	out DEVICE_PORT, al
.loop:
	cli				; look with interrupts off: none slips in before HLT
	cmp dword [CPU1 + TIMER], TICKS
	jb .wait
	cmp dword [CPU1 + IPI], 0
	je .wait
	cmp dword [CPU1 + IOAPIC], 0
	je .wait
	cmp dword [CPU1 + MSI], 0
	je .wait
	mov dword [CPU1 + DONE], 1
	mov ecx, X2APIC_ICR		; cpu 0 may be idle: wake it to report
	xor edx, edx
	mov eax, VEC_WAKE
	wrmsr
	hlt				; IF = 0: the VMM takes this vCPU as finished
	jmp $
.wait:
	sti				; STI's shadow: an interrupt pending now wakes the HLT
	hlt
	jmp .loop

; cpu 1's interrupt handlers (its IVT at 0, entries 0800:offset): count, EOI by MSR.
%macro AP_HANDLER 2
%1:
	push eax
	push ecx
	push edx
	inc dword [CPU1 + %2]
	jmp ap_eoi
%endmacro

smp_ap_timer:
	push eax
	push ecx
	push edx
	inc dword [CPU1 + TIMER]
	cmp dword [CPU1 + TIMER], TICKS
	jb ap_eoi
	mov ecx, X2APIC_MSR(APIC_TIMER_INIT)	; the last one: an initial count of 0 stops it
	xor eax, eax
	xor edx, edx
	wrmsr
	jmp ap_eoi
AP_HANDLER smp_ap_ipi, IPI
AP_HANDLER smp_ap_ioapic, IOAPIC
AP_HANDLER smp_ap_msi, MSI
ap_eoi:
	mov ecx, X2APIC_MSR(APIC_EOI)
	xor eax, eax
	xor edx, edx
	wrmsr
	pop edx
	pop ecx
	pop eax
	iret
smp_ap_spurious:			; no EOI for the spurious vector
	iret

; ---------------------------------------------------------------------------
; cpu 0: 32-bit protected mode, flat segments, its IDT built by the VMM.
bits 32
smp_bsp:
	mov esp, BSP_STACK
	mov ecx, MSR_APIC_BASE		; xAPIC mode (EXTD clear), as it came out of reset
	rdmsr
	shr eax, 10
	and eax, 1
	mov [CPU0 + X2APIC], eax
	mov edx, [APIC + APIC_ID]	; a read of the APIC page: ID in bits 31:24
	shr edx, 24
	mov [CPU0 + ID], edx
	mov dword [APIC + APIC_SVR], 0x100 | VEC_SPURIOUS
	mov dword [CPU0 + READY], 1
	mov esi, G(started)
	call puts
	mov eax, [CPU0 + ID]
	call putdec
	mov esi, G(started2)
	call puts
	mov al, 0			; the device: an interrupt for APIC ID 0, please
	out DEVICE_PORT, al		; (it waits in the APIC until this CPU takes interrupts)

	mov dword [APIC + APIC_ICR_HI], 1 << 24		; destination: APIC ID 1
	mov dword [APIC + APIC_ICR_LO], ICR_INIT
	mov dword [APIC + APIC_ICR_LO], ICR_STARTUP | (CODE >> 12)

	mov dword [APIC + APIC_TIMER_DIV], 0xb		; divide by 1
	mov dword [APIC + APIC_LVT_TIMER], TIMER_PERIODIC | VEC_TIMER
	mov ecx, TIMER_COUNT
	mov [APIC + APIC_TIMER_INIT], ecx		; (the register form of the MOV)
.loop:
	cli				; look with interrupts off: none slips in before HLT
	cmp dword [CPU0 + IPI_SENT], 0
	jne .check
	cmp dword [CPU1 + READY], 0	; cpu 1's APIC takes interrupts only once enabled
	je .check
	mov dword [APIC + APIC_ICR_HI], 1 << 24
	mov dword [APIC + APIC_ICR_LO], VEC_IPI		; fixed, physical: one IPI to cpu 1
	mov dword [CPU0 + IPI_SENT], 1
.check:
	cmp dword [CPU0 + TIMER], TICKS
	jb .wait
	cmp dword [CPU0 + IPI], 0
	je .wait
	cmp dword [CPU0 + IOAPIC], 0
	je .wait
	cmp dword [CPU0 + MSI], 0
	je .wait
	cmp dword [CPU1 + DONE], 0
	je .wait
	mov ebx, CPU0
	call report
	mov ebx, CPU1
	call report
	hlt				; IF = 0: the VMM takes this vCPU as finished
	jmp $
.wait:
	sti				; STI's shadow: an interrupt pending now wakes the HLT
	hlt
	jmp .loop

; cpu 0's interrupt handlers: count, EOI through the APIC page.
smp_bsp_timer:
	inc dword [CPU0 + TIMER]
	cmp dword [CPU0 + TIMER], TICKS
	jb bsp_eoi
	mov dword [APIC + APIC_TIMER_INIT], 0	; the last one: stop the timer
	jmp bsp_eoi
smp_bsp_ipi:
	inc dword [CPU0 + IPI]
	jmp bsp_eoi
smp_bsp_ioapic:
	inc dword [CPU0 + IOAPIC]
	jmp bsp_eoi
smp_bsp_msi:
	inc dword [CPU0 + MSI]
	jmp bsp_eoi
smp_bsp_wake:
bsp_eoi:
	mov dword [APIC + APIC_EOI], 0
	iret
smp_bsp_spurious:
	iret

; One CPU's line from its block at EBX:
; "cpu ID: xAPIC mode: N timer interrupts, N IPI, N IOAPIC interrupt, N MSI".
report:
	mov esi, G(s_cpu)
	call puts
	mov eax, [ebx + ID]
	call putdec
	mov esi, G(xapic)
	cmp dword [ebx + X2APIC], 0
	je .mode
	mov esi, G(x2apic)
.mode:
	call puts
	mov eax, [ebx + TIMER]
	call putdec
	mov esi, G(timers)
	call puts
	mov eax, [ebx + IPI]
	call putdec
	mov esi, G(ipis)
	call puts
	mov eax, [ebx + IOAPIC]
	call putdec
	mov esi, G(ioapics)
	call puts
	mov eax, [ebx + MSI]
	call putdec
	mov esi, G(msis)
	jmp puts

; Prints the NUL-terminated string at ESI on the console.
puts:
	lodsb
	test al, al
	jz .done
	out CONSOLE, al
	jmp puts
.done:
	ret

; Prints EAX in decimal.
putdec:
	mov ecx, 10
	xor edi, edi
.digit:
	xor edx, edx
	div ecx
	push edx
	inc edi
	test eax, eax
	jnz .digit
.out:
	pop eax
	add al, '0'
	out CONSOLE, al
	dec edi
	jnz .out
	ret

started:	db "cpu 0: xAPIC mode, APIC ID ", 0
started2:	db " read from the APIC page; INIT and SIPI to cpu 1", 10, 0
s_cpu:		db "cpu ", 0
xapic:		db ": xAPIC mode: ", 0
x2apic:		db ": x2APIC mode: ", 0
timers:		db " timer interrupts, ", 0
ipis:		db " IPI, ", 0
ioapics:	db " IOAPIC interrupt, ", 0
msis:		db " MSI", 10, 0
smp_guest_end:

%ifidn __OUTPUT_FORMAT__, elf64
section .note.GNU-stack noalloc noexec nowrite progbits
%endif
