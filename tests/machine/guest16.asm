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

; APIC acceleration (hvtest_apic.c). x2APIC on, software-enabled, one OUT to say
; so, then idle with interrupts on: what wakes it comes from hvmetal's APIC.
GUEST guest_x2apic
	mov ecx, 0x1b			; IA32_APIC_BASE: EN | EXTD
	rdmsr
	or ax, 0xc00
	wrmsr
	mov ecx, 0x80f			; SVR: enabled, spurious vector 0xff
	mov eax, 0x1ff
	xor edx, edx
	wrmsr
	out 0xe9, al
.idle:
	sti
	hlt
	jmp .idle
; Interrupt handlers: each counts at 0x2000 + 4 * n, then EOI through the x2APIC MSR.
global guest_isr40, guest_isr41, guest_isr42, guest_isr43, guest_isr_pic, guest_isr_nmi
guest_isr40:
	inc dword [0x2000]
	jmp isr_eoi
guest_isr41:
	inc dword [0x2004]
	jmp isr_eoi
guest_isr42:				; tells the VMM it ran (an OUT exit) before its EOI
	inc dword [0x2008]
	out 0xe9, al
	jmp isr_eoi
guest_isr43:
	inc dword [0x200c]
	jmp isr_eoi
guest_isr_pic:				; the 8259's (auto-EOI): no local APIC EOI
	inc dword [0x2010]
	iret
guest_isr_nmi:				; exits (OUT) inside the handler, NMIs blocked
	inc dword [0x2014]
	out 0xe9, al
	iret
isr_eoi:
	push eax
	push ecx
	push edx
	mov ecx, 0x80b
	xor eax, eax
	xor edx, edx
	wrmsr
	pop edx
	pop ecx
	pop eax
	iret
guest_x2apic_end:

; INIT then SIPI (vector 9) to vCPU 1 through the x2APIC ICR, then OUT.
GUEST guest_init_sipi
	mov ecx, 0x830
	mov edx, 1
	mov eax, 0x4500
	wrmsr
	mov eax, 0x4609
	wrmsr
	out 0xe9, al
	hlt
guest_init_sipi_end:

; Reads the APIC version register through the page the VMM placed at 0x20000.
GUEST guest_apic_ver
	mov ax, 0x2000
	mov ds, ax
	mov eax, [0x30]
	xor bx, bx
	mov ds, bx
	out 0xe9, al
	hlt
guest_apic_ver_end:

; The load-store cache: an APIC-page load, an imm32 store and a register store
; (the page at 0x20000), then OUT, round after round.
GUEST guest_lsc
	mov ax, 0x2000
	mov ds, ax
.round:
	mov eax, [0x30]			; version -> EAX
	mov dword [0x80], 0x10		; TPR = 0x10
	mov [0x80], ebx			; TPR = EBX
	out 0xe9, al
	jmp .round
guest_lsc_end:

; vCPU 1 on another CPU (loaded at 0x3000): x2APIC on, then 100 fixed IPIs (vector
; 0x41) to APIC ID 0, each after the one before was counted at 0x2004; then OUT.
GUEST guest_ipi_sender
	mov ecx, 0x1b
	rdmsr
	or ax, 0xc00
	wrmsr
	mov ecx, 0x80f
	mov eax, 0x1ff
	xor edx, edx
	wrmsr
	mov si, 100
.send:
	mov ebx, [0x2004]
	mov ecx, 0x830
	xor edx, edx
	mov eax, 0x41
	wrmsr
.wait:
	cmp [0x2004], ebx
	je .wait
	dec si
	jnz .send
	out 0xe9, al
	hlt
guest_ipi_sender_end:

; An x2APIC MSR read in xAPIC mode: #GP (real mode: no error code), whose handler OUTs.
GUEST guest_gp
	mov ecx, 0x802
	rdmsr
	hlt
global guest_gp_isr
guest_gp_isr:
	out 0xe9, al
	hlt
guest_gp_end:

; IA32_APIC_BASE: x2APIC on (EN|EXTD), OUT, then idle.
GUEST guest_apic_base
	mov ecx, 0x1b
	rdmsr
	or ax, 0xc00
	wrmsr
	out 0xe9, al
	hlt
guest_apic_base_end:

; Loaded at 0x3800: interrupts off across an OUT, then on again, another OUT, then idle.
GUEST guest_cli_out
	cli
	out 0xe9, al
	sti
	nop
	out 0xe9, al
.idle:
	sti
	hlt
	jmp .idle
guest_cli_out_end:

; APIC virtualization: x2APIC on, TPR 0x20, then 1000 rounds of a TPR read, a PPR
; read and a TPR write timed by RDTSC (ticks at 0x2100, the last values read at
; 0x2104 and 0x2108), TPR 0, OUT, then idle; its handler (vector 0x44) counts at
; 0x2000 and times its EOI (ticks at 0x210c).
GUEST guest_apicv
	mov ecx, 0x1b
	rdmsr
	or ax, 0xc00
	wrmsr
	mov ecx, 0x80f
	mov eax, 0x1ff
	xor edx, edx
	wrmsr
	mov ecx, 0x808
	mov eax, 0x20
	wrmsr
	rdtsc
	mov esi, eax
	mov di, 1000
.round:
	mov ecx, 0x808
	rdmsr
	mov [0x2104], eax
	mov ecx, 0x80a
	rdmsr
	mov [0x2108], eax
	mov ecx, 0x808
	mov eax, 0x20
	xor edx, edx
	wrmsr
	dec di
	jnz .round
	rdtsc
	sub eax, esi
	mov [0x2100], eax
	xor eax, eax
	wrmsr
	out 0xe9, al
.idle:
	sti
	hlt
	jmp .idle
global guest_apicv_isr
guest_apicv_isr:
	inc dword [0x2000]
	rdtsc
	mov esi, eax
	mov ecx, 0x80b
	xor eax, eax
	xor edx, edx
	wrmsr
	rdtsc
	sub eax, esi
	mov [0x210c], eax
	iret
guest_apicv_end:

section .note.GNU-stack noalloc noexec nowrite progbits
