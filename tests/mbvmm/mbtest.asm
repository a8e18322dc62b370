; mbtest: the Multiboot VMM's own test kernel (examples/mbvmm). A Multiboot v1
; ELF32 kernel, as kvm-unit-tests' are: it checks what the machine gives it
; and says so in TAP on COM1, then writes its failure count to the exit port.
; Checks: the boot registers and multiboot information (memory, command line
; with argv[0], the environment module), the 16550, fw_cfg, an unknown port,
; CPUID, #GP for an unknown MSR and a native one, the ACPI tables to the PM
; timer, and the switch to 64-bit mode, whose code ends the run.
bits 32

MB_MAGIC	equ 0x1badb002
EXIT_PORT	equ 0xf4
FW_CFG_SEL	equ 0x510
FW_CFG_DATA	equ 0x511

section .text
align 4
	dd MB_MAGIC, 0, -MB_MAGIC

global start
start:
	mov esp, stack_top
	mov [boot_eax], eax
	mov [boot_ebx], ebx
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

	; 1: EAX holds the boot magic, EBX the info block below 640 KiB
	cmp dword [boot_eax], 0x2badb002
	sete al
	cmp dword [boot_ebx], 0xa0000
	setb ah
	and al, ah
	mov esi, s_magic
	call check

	; 2: memory, command line and modules present; mem_upper is the RAM above 1 MiB
	mov ebx, [boot_ebx]
	mov eax, [ebx]
	and eax, 0xd
	cmp eax, 0xd
	sete al
	cmp dword [ebx + 8], (127 << 10)	; -m 128
	sete ah
	and al, ah
	mov esi, s_info
	call check

	; 3: the command line starts with argv[0] = the kernel's name
	mov esi, s_cmd_diag
	call puts
	mov esi, [ebx + 16]
	call puts
	call newline
	mov esi, [ebx + 16]
	mov edi, s_argv0
	call prefix
	mov esi, s_cmdline
	call check

	; 4: one module: the environment text
	cmp dword [ebx + 20], 1
	sete al
	push eax
	mov esi, [ebx + 24]
	mov esi, [esi]
	mov edi, s_env
	call prefix
	pop edx
	and al, dl
	mov esi, s_module
	call check

	; 5: fw_cfg: "QEMU", then the CPU count 1
	mov dx, FW_CFG_SEL
	xor ax, ax
	out dx, ax
	mov dx, FW_CFG_DATA
	in al, dx
	mov cl, al
	in al, dx
	mov ch, al
	cmp cx, 'QE'
	sete bl
	mov dx, FW_CFG_SEL
	mov ax, 5
	out dx, ax
	mov dx, FW_CFG_DATA
	in al, dx
	cmp al, 1
	sete al
	and al, bl
	mov esi, s_fwcfg
	call check

	; 6: a port nobody has reads all-ones
	mov dx, 0x1234
	xor eax, eax
	in eax, dx
	cmp eax, 0xffffffff
	sete al
	mov esi, s_port
	call check

	; 7: CPUID 1: APIC ID 0, the hypervisor bit, no VMX
	mov eax, 1
	cpuid
	mov eax, ebx
	shr eax, 24
	test eax, eax
	sete al
	bt ecx, 31
	setc ah
	and al, ah
	bt ecx, 5
	setnc ah
	and al, ah
	mov esi, s_cpuid
	call check

	; 8: RDMSR of an unknown MSR is #GP
	mov byte [gp_seen], 0
	mov ecx, 0x12345678
	rdmsr
	mov al, [gp_seen]
	mov esi, s_gp
	call check

	; 9: a native MSR keeps what the guest wrote (KERNEL_GS_BASE)
	mov ecx, 0xc0000102
	mov eax, 0x12345000
	mov edx, 0x7f
	wrmsr
	xor eax, eax
	xor edx, edx
	rdmsr
	cmp eax, 0x12345000
	sete bl
	cmp edx, 0x7f
	sete al
	and al, bl
	mov esi, s_msr
	call check

	; 10: RSDP -> RSDT -> FACP: the PM timer's port, and it counts
	call acpi_pm_port
	mov ebp, eax
	cmp eax, 0x608
	sete bl
	mov edx, ebp
	in eax, dx
	mov edi, eax
	mov ecx, 200000
.spin:	loop .spin
	in eax, dx
	sub eax, edi
	and eax, 0xffffff
	test eax, eax
	setnz al
	and al, bl
	mov esi, s_pmtimer
	call check

	; 11: 64-bit mode: PAE paging, EFER.LME, CR0.PG, a far jump
	call long_mode
	; not reached

; ---- 32-bit helpers ----

; The PM timer port from the FACP, 0 if the tables are not there
acpi_pm_port:
	mov esi, 0xe0000
.scan:	cmp dword [esi], 'RSD '
	jne .next
	cmp dword [esi + 4], 'PTR '
	je .found
.next:	add esi, 16
	cmp esi, 0x100000
	jb .scan
	xor eax, eax
	ret
.found:	mov esi, [esi + 16]		; RSDT
	mov esi, [esi + 36]		; its first entry
	xor eax, eax
	cmp dword [esi], 'FACP'
	jne .none
	mov eax, [esi + 76]
.none:	ret

; #GP: note it, step over the 2-byte RDMSR/WRMSR
gp_handler:
	mov byte [gp_seen], 1
	add dword [esp + 4], 2		; past the error code: EIP
	add esp, 4
	iret

idt_setup:
	mov eax, gp_handler
	mov [idt + 13 * 8], ax
	mov word [idt + 13 * 8 + 2], 0x08
	mov word [idt + 13 * 8 + 4], 0x8e00
	shr eax, 16
	mov [idt + 13 * 8 + 6], ax
	lidt [idt_ptr]
	ret

long_mode:
	; PML4[0] -> PDPT, PDPT[0] -> PD, PD: 512 2-MiB pages, identity
	mov eax, pdpt
	or eax, 3
	mov [pml4], eax
	mov eax, pd
	or eax, 3
	mov [pdpt], eax
	xor ecx, ecx
.pde:	mov eax, ecx
	shl eax, 21
	or eax, 0x83
	mov [pd + ecx * 8], eax
	inc ecx
	cmp ecx, 512
	jb .pde
	mov eax, pml4
	mov cr3, eax
	mov eax, cr4
	or eax, 1 << 5			; PAE
	mov cr4, eax
	mov ecx, 0xc0000080		; EFER.LME
	rdmsr
	or eax, 1 << 8
	wrmsr
	mov eax, cr0
	or eax, 0x80000000		; PG: long mode active
	mov cr0, eax
	jmp 0x18:long64

bits 64
long64:
	mov ecx, 0xc0000080
	rdmsr
	bt eax, 10			; EFER.LMA
	setc bl
	mov ax, 0x10
	mov ds, ax
	inc dword [tests]
	test bl, bl
	jnz .ok
	inc dword [failed]
	lea rsi, [rel s_not]
	call puts64
.ok:	lea rsi, [rel s_ok]
	call puts64
	mov eax, [tests]
	add al, '0' - 10		; 11: "1" then "1"
	push rax
	mov al, '1'
	call putc64
	pop rax
	call putc64
	lea rsi, [rel s_long]
	call puts64
	lea rsi, [rel s_plan]
	call puts64
	mov eax, [failed]
	test eax, eax
	setnz al
	movzx eax, al
	out EXIT_PORT, eax
	cli
.halt:	hlt
	jmp .halt

putc64:
	mov dx, COM1 + 5
	push rax
.wait:	in al, dx
	test al, 0x20
	jz .wait
	pop rax
	mov dx, COM1
	out dx, al
	ret

puts64:
	lodsb
	test al, al
	jz .done
	call putc64
	jmp puts64
.done:	ret

%include "tests/mbvmm/tap.inc"

section .rodata
s_hello:	db "# mbtest: a Multiboot kernel under mbvmm", 10, 0
s_magic:	db "EAX holds the Multiboot magic, EBX the info block below 640 KiB", 0
s_info:		db "the info block has memory, command line and modules; mem_upper is 127 MiB", 0
s_cmd_diag:	db "# command line: ", 0
s_argv0:	db "mbtest.elf ", 0
s_cmdline:	db "the command line starts with argv[0], the kernel's name", 0
s_env:		db "NR_CPUS=1", 0
s_module:	db "one module: the environment file", 0
s_fwcfg:	db "fw_cfg: the QEMU signature and one CPU", 0
s_port:		db "a port with no device reads all-ones", 0
s_cpuid:	db "CPUID 1: APIC ID 0, the hypervisor bit, no VMX", 0
s_gp:		db "RDMSR of an unknown MSR raises #GP", 0
s_msr:		db "KERNEL_GS_BASE keeps what the guest wrote", 0
s_pmtimer:	db "RSDP -> RSDT -> FACP gives the PM timer at 0x608, and it counts", 0
s_long:		db " - 64-bit mode: EFER.LMA set after CR0.PG", 10, 0
s_plan:		db "1..11", 10, 0

section .data
align 8
gdt:	dq 0
	dq 0x00cf9a000000ffff		; 0x08: 32-bit code
	dq 0x00cf92000000ffff		; 0x10: data
	dq 0x00af9a000000ffff		; 0x18: 64-bit code
gdt_ptr:
	dw 4 * 8 - 1
	dd gdt
idt_ptr:
	dw 256 * 8 - 1
	dd idt

section .bss
alignb 4096
pml4:	resb 4096
pdpt:	resb 4096
pd:	resb 4096
idt:	resb 256 * 8
boot_eax:	resd 1
boot_ebx:	resd 1
gp_seen:	resb 1
alignb 16
	resb 8192
stack_top:
