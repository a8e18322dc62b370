# hvmetal: one entry point. `make` builds the UEFI images and the ESP image,
# `make run` boots a demo, `make test` runs every test.

B := build
EFIINC := /usr/include/efi
GNUEFI_LDS := /usr/lib/elf_x86_64_efi.lds
GNUEFI_CRT0 := /usr/lib/crt0-efi-x86_64.o

WARN := -Wall -Wextra -Werror
# The core runs in VMX root between guest instructions: it must never touch
# FPU/SSE state (the guest's), so everything is built general-registers-only.
EFI_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-stack-protector -fpic \
	-fshort-wchar -mno-red-zone -maccumulate-outgoing-args \
	-fno-strict-aliasing -DGNU_EFI_USE_MS_ABI -I$(EFIINC) -I$(EFIINC)/x86_64 -Iinclude -I.
# boot/ and the UEFI test app run only in firmware context and call ms_abi code,
# which saves XMM6-15; the core never touches SSE.
CORE_CFLAGS := -mgeneral-regs-only
EFI_LDFLAGS := -nostdlib -znocombreloc -T $(GNUEFI_LDS) -shared -Bsymbolic -L/usr/lib $(GNUEFI_CRT0)
EFI_LIBS := -lefi -lgnuefi
OBJCOPY_EFI := objcopy -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel \
	-j .rela -j .rel.* -j .rela.* -j .reloc --target efi-app-x86_64 --subsystem=10

HOST_CFLAGS := -std=gnu11 -O1 -g $(WARN) -fsanitize=address,undefined \
	-fno-sanitize-recover=all -DHVMETAL_HOST_TEST -Iinclude -I.

# The core, one folder per layer, lowest first (scripts/check-layers.sh).
CORE_SRCS := kernel/hvmetal.c kernel/log.c kernel/pool.c kernel/string.c kernel/panic.c kernel/host.c \
	kernel/memmap.c kernel/guest_pt.c kernel/xstate.c kernel/cr_rules.c kernel/kick.c kernel/msr_safe.c \
	apic/ipi_dest.c apic/vlapic.c apic/vintr.c apic/vioapic.c apic/vatpic.c apic/lsc.c apic/apicv.c \
	ept/ept_identity.c ept/ept.c \
	vmx/vmx_caps.c vmx/vmcs.c vmx/vmx_cpu.c vmx/vmx_exit.c vmx/vmcs_policy.c \
	vm/vm.c vm/vapic.c vm/vcpu.c vm/vcpu_apic.c vm/vcpu_apicv.c vm/vcpu_move.c vm/vcpu_run.c vm/vcpu_regs.c \
	hypercall/hypercall.c hypercall/uaccess.c hypercall/hc_vm.c hypercall/hc_vcpu.c hypercall/hc_apic.c \
	cd/cd_launch.c cd/cd_park.c cd/cd_exits.c cd/cd_msr.c cd/cd_apic.c cd/insn_decode.c
CORE_ASM := kernel/host_idt.asm kernel/msr_safe.asm cd/cd_entry.asm vm/vcpu_entry.asm
BOOT_SRCS := boot/efi_main.c boot/relocate.c boot/config.c boot/memmap_efi.c
BOOT_ASM := boot/launch.asm
LIBHV_SRCS := libhv/hvmetal.c libhv/hv_vm.c libhv/hv_vcpu.c libhv/hv_apic.c libhv/hv_vm_allocate_efi.c libhv/hv_never.c
HVTEST_SRCS := tests/machine/hvtest.c tests/machine/tap.c tests/machine/trap.c tests/machine/ring3.c tests/machine/hvtest_vm.c tests/machine/hvtest_vcpu.c tests/machine/hvtest_apic.c tests/machine/hvtest_hostile.c tests/machine/hvtest_storm.c tests/machine/window.c kernel/log.c kernel/string.c
HVTEST_ASM := tests/machine/probe.asm tests/machine/ring3.asm tests/machine/guest16.asm

HVMETAL_OBJS := $(patsubst %,$(B)/efi/%.o,$(BOOT_SRCS) $(BOOT_ASM) $(CORE_SRCS) $(CORE_ASM))
LIBHV_OBJS := $(patsubst %,$(B)/efi/%.o,$(LIBHV_SRCS))
HVTEST_OBJS := $(patsubst %,$(B)/efi/%.o,$(HVTEST_SRCS) $(HVTEST_ASM))
HVBENCH_SRCS := tests/machine/hvbench.c tests/machine/hvbench_vcpu.c tests/machine/hvbench_apic.c tests/machine/window.c kernel/log.c kernel/string.c
HVBENCH_OBJS := $(patsubst %,$(B)/efi/%.o,$(HVBENCH_SRCS))
# The example VMM (README.md, "Example VMM"): the portable VMM and its UEFI platform file.
VMM_SRCS := examples/vmm/vmm.c examples/vmm/guest_dos.c examples/vmm/guest_long.c \
	examples/vmm/guest_smp.c examples/vmm/platform_efi.c kernel/log.c kernel/string.c
VMM_ASM := examples/vmm/guests.asm examples/vmm/smp.asm
VMM_OBJS := $(patsubst %,$(B)/efi/%.o,$(VMM_SRCS) $(VMM_ASM))
# The Multiboot VMM (examples/mbvmm, README "Multiboot VMM"): the portable VMM, its pure parts, the UEFI platform.
MBVMM_PURE := examples/mbvmm/mb_load.c examples/mbvmm/mb_insn.c examples/mbvmm/mb_walk.c \
	examples/mbvmm/uart16550.c examples/mbvmm/fw_cfg.c examples/mbvmm/acpi_tables.c
MBVMM_SRCS := examples/mbvmm/mbvmm.c examples/mbvmm/mb_ports.c examples/mbvmm/mb_cpu.c \
	examples/mbvmm/mb_mmio.c examples/mbvmm/mb_smp.c examples/mbvmm/mb_run.c $(MBVMM_PURE)
MBVMM_OBJS := $(patsubst %,$(B)/efi/%.o,$(MBVMM_SRCS) examples/vmm/platform_efi.c kernel/log.c kernel/string.c)

# Host unit tests: test name -> the real sources it exercises.
HOST_TESTS := $(basename $(notdir $(wildcard tests/host/test_*.c)))
test_headers_SRCS :=
test_pool_SRCS := kernel/pool.c
test_guest_pt_SRCS := kernel/guest_pt.c
test_memmap_SRCS := kernel/memmap.c
test_config_SRCS := boot/config.c kernel/log.c
test_vmx_caps_SRCS := vmx/vmx_caps.c
test_vcpu_regs_SRCS := vm/vcpu_regs.c
test_cr_rules_SRCS := kernel/cr_rules.c
test_ipi_dest_SRCS := apic/ipi_dest.c
test_vioapic_SRCS := apic/vioapic.c
test_vatpic_SRCS := apic/vatpic.c
test_lsc_SRCS := apic/lsc.c
test_vlapic_SRCS := apic/vlapic.c apic/vintr.c apic/ipi_dest.c
test_vintr_SRCS := apic/vintr.c apic/vlapic.c apic/ipi_dest.c
test_apicv_SRCS := apic/apicv.c apic/vlapic.c apic/vintr.c apic/ipi_dest.c
test_vmcs_policy_SRCS := vmx/vmcs_policy.c vmx/vmx_caps.c
test_ept_identity_SRCS := ept/ept_identity.c kernel/pool.c kernel/memmap.c
test_ept_SRCS := ept/ept.c kernel/pool.c
test_log_SRCS := kernel/log.c
test_libhv_SRCS := libhv/hv_vm.c libhv/hv_vcpu.c libhv/hv_apic.c libhv/hv_never.c
test_insn_decode_SRCS := cd/insn_decode.c
test_uaccess_SRCS := hypercall/uaccess.c kernel/guest_pt.c kernel/memmap.c
test_mb_load_SRCS := examples/mbvmm/mb_load.c
test_mb_insn_SRCS := examples/mbvmm/mb_insn.c
test_mb_walk_SRCS := examples/mbvmm/mb_walk.c
test_mbvmm_devices_SRCS := examples/mbvmm/uart16550.c examples/mbvmm/fw_cfg.c examples/mbvmm/acpi_tables.c
HOST_TEST_BINS := $(patsubst %,$(B)/host/%,$(HOST_TESTS))

.PHONY: all deps run run-uefi test test-host test-machine bench stress image clean
all: $(B)/layers.ok $(B)/hvmetal.efi $(B)/hvtest.efi $(B)/hvbench.efi $(B)/libhv.a $(B)/esp.img \
	$(B)/vmm.efi $(B)/esp-vmm.img $(B)/acpi-bochs.efi $(B)/mbvmm.efi $(B)/esp-mbvmm.img $(B)/esp-mbsmp.img \
	$(B)/esp-x2apic.img $(B)/esp-park.img

deps:
	@scripts/deps.sh

$(B)/efi/%.c.o: %.c | deps-ok
	@mkdir -p $(dir $@)
	gcc $(EFI_CFLAGS) $(EXTRA_CFLAGS) $(if $(filter boot/% tests/% libhv/% examples/%,$<),,$(CORE_CFLAGS)) -MMD -c $< -o $@

$(B)/efi/%.asm.o: %.asm | deps-ok
	@mkdir -p $(dir $@)
	nasm -f elf64 -Werror -I. -MD $(@:.o=.d) -o $@ $<

# An EFI image has no dynamic linker: a call through the PLT (a helper such as
# __udivti3 that nothing links in) would jump to nowhere, so it fails the build.
$(B)/%.so: | deps-ok
	ld $(EFI_LDFLAGS) $^ -o $@ $(EFI_LIBS)
	@if objdump -R $@ | grep -q JUMP_SLOT; then \
		echo "$@: unresolved calls:"; objdump -R $@ | grep JUMP_SLOT; rm -f $@; exit 1; fi

$(B)/hvmetal.so: $(HVMETAL_OBJS)

# Folders are layers (scripts/check-layers.sh): no include or call points upward.
$(B)/layers.ok: $(HVMETAL_OBJS) scripts/check-layers.sh
	scripts/check-layers.sh $(HVMETAL_OBJS)
	@touch $@
$(B)/hvtest.so: $(HVTEST_OBJS) $(B)/libhv.a
$(B)/hvbench.so: $(HVBENCH_OBJS) $(B)/libhv.a
$(B)/vmm.so: $(VMM_OBJS) $(B)/libhv.a
$(B)/mbvmm.so: $(MBVMM_OBJS) $(B)/libhv.a

# libhv for UEFI control-domain programs (a macOS VMM links this in place of the framework).
$(B)/libhv.a: $(LIBHV_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/%.efi: $(B)/%.so
	$(OBJCOPY_EFI) $< $@

$(B)/esp.img: $(B)/hvmetal.efi $(B)/hvtest.efi scripts/mkesp.sh
	scripts/mkesp.sh $@ $(B)/hvmetal.efi $(B)/hvtest.efi

# The Multiboot VMM's own test kernels (tests/mbvmm), ELF32 Multiboot images as QEMU's -kernel takes.
$(B)/mbvmm/%.elf: tests/mbvmm/%.asm tests/mbvmm/tap.inc | deps-ok
	@mkdir -p $(@D)
	nasm -f elf32 -Werror -I. -o $(@:.elf=.o) $<
	ld -m elf_i386 -Ttext=0x400000 -e start -o $@ $(@:.elf=.o)

# mbvmm.efi booting it: hvmetal.cfg gives mbvmm its command line (tests/mbvmm/hvmetal.cfg).
$(B)/esp-mbvmm.img: $(B)/hvmetal.efi $(B)/mbvmm.efi $(B)/mbvmm/mbtest.elf tests/mbvmm/hvmetal.cfg \
		tests/mbvmm/mbtest.env scripts/mkesp.sh
	scripts/mkesp.sh $@ $(B)/hvmetal.efi $(B)/mbvmm.efi tests/mbvmm/hvmetal.cfg
	mcopy -o -i $@ $(B)/mbvmm/mbtest.elf ::/mbtest.elf
	mcopy -o -i $@ tests/mbvmm/mbtest.env ::/mbtest.env
$(B)/esp-mbsmp.img: $(B)/hvmetal.efi $(B)/mbvmm.efi $(B)/mbvmm/mbsmp.elf tests/mbvmm/mbsmp.cfg scripts/mkesp.sh
	scripts/mkesp.sh $@ $(B)/hvmetal.efi $(B)/mbvmm.efi tests/mbvmm/mbsmp.cfg
	mcopy -o -i $@ $(B)/mbvmm/mbsmp.elf ::/mbsmp.elf

# The example VMM's image: hvmetal.cfg starts vmm.efi instead of the suite (`make run`).
$(B)/esp-vmm.img: $(B)/hvmetal.efi $(B)/vmm.efi examples/vmm/hvmetal.cfg scripts/mkesp.sh
	scripts/mkesp.sh $@ $(B)/hvmetal.efi $(B)/vmm.efi examples/vmm/hvmetal.cfg

# ---- Linux as the control domain (README.md, "Linux as the control domain") ----
# scripts/deps.sh unpacks Debian's cloud kernel into build/linux (one copy for every
# build tree) and writes build/linux/linux.env: LINUX_ABI, LINUX_VMLINUZ, LINUX_HEADERS
# (the headers for out-of-tree modules), a shell and a make fragment at once.
LINUX := build/linux
-include $(wildcard $(LINUX)/linux.env)
$(LINUX)/linux.env:
	scripts/deps.sh

# Test harness, not hvmetal: Bochs's firmware has no ACPI tables (tests/linux/acpi-bochs).
$(B)/acpi-bochs.so: $(B)/efi/tests/linux/acpi-bochs/acpi_bochs.c.o $(B)/efi/tests/efi-chain/efi_chain.c.o

# A test image, never to boot for use: hvmetal whose launch fails on CPU 1, which
# must park out of the control domain's reach (tests/park-check checks it).
$(B)/efi-failap/cd/cd_launch.c.o: cd/cd_launch.c | deps-ok
	@mkdir -p $(@D)
	gcc $(EFI_CFLAGS) $(EXTRA_CFLAGS) $(CORE_CFLAGS) -DHVMETAL_TEST_FAIL_CPU=1 -MMD -c $< -o $@
$(B)/hvmetal-failap.so: $(filter-out $(B)/efi/cd/cd_launch.c.o,$(HVMETAL_OBJS)) \
	$(B)/efi-failap/cd/cd_launch.c.o
$(B)/park-check.so: $(B)/efi/tests/park-check/park_check.c.o $(B)/efi/tests/machine/tap.c.o \
	$(B)/efi/tests/efi-chain/efi_chain.c.o $(B)/efi/kernel/log.c.o $(B)/efi/kernel/string.c.o $(B)/libhv.a
# park-check boots first, starts hvmetal, and hvmetal starts it again as its next image.
$(B)/esp-park.img: $(B)/hvmetal-failap.efi $(B)/park-check.efi tests/park-check/hvmetal.cfg scripts/mkesp.sh
	scripts/mkesp.sh $@ $(B)/park-check.efi $(B)/park-check.efi tests/park-check/hvmetal.cfg
	mcopy -o -i $@ $(B)/hvmetal-failap.efi ::/EFI/hvmetal/hvmetal.efi

# Test harness, not hvmetal: every CPU in x2APIC mode before hvmetal starts (tests/x2apic-boot).
$(B)/x2apic-boot.so: $(B)/efi/tests/x2apic-boot/x2apic_boot.c.o $(B)/efi/tests/efi-chain/efi_chain.c.o
$(B)/esp-x2apic.img: $(B)/x2apic-boot.efi $(B)/hvmetal.efi $(B)/hvtest.efi scripts/mkesp.sh
	scripts/mkesp.sh $@ $(B)/x2apic-boot.efi $(B)/hvtest.efi
	mcopy -o -i $@ $(B)/hvmetal.efi ::/EFI/hvmetal/hvmetal.efi

# The smoke test's initramfs: busybox, /init, tests/linux/smoke.sh.
$(B)/initrd-smoke.gz: scripts/mkinitrd.sh tests/linux/smoke.sh | $(LINUX)/linux.env
	scripts/mkinitrd.sh $@ tests/linux/smoke.sh

# acpi-bochs.efi -> hvmetal.efi -> the kernel's EFI stub with tests/linux/hvmetal.cfg's
# command line and the smoke initramfs; boots under Bochs (VT-x) and QEMU TCG (native).
$(B)/esp-linux.img: $(B)/acpi-bochs.efi $(B)/hvmetal.efi tests/linux/hvmetal.cfg \
		$(B)/initrd-smoke.gz scripts/mkesp-linux.sh $(LINUX)/linux.env
	. $(LINUX)/linux.env && scripts/mkesp-linux.sh $@ $(B)/acpi-bochs.efi $(B)/hvmetal.efi \
		tests/linux/hvmetal.cfg "$$LINUX_VMLINUZ" $(B)/initrd-smoke.gz

# Boots build/esp-linux.img: Bochs with 1 and 2 CPUs, QEMU TCG, one at a time.
.PHONY: test-linux
test-linux: $(B)/esp-linux.img
	tests/linux/run.sh $(B)/esp-linux.img
# ---- end of Linux ----

image: $(B)/esp.img
	@echo "ESP image: $(B)/esp.img (write it to a USB stick, see docs/hardware.md)"

$(B)/host/%: tests/host/%.c | deps-ok
	@mkdir -p $(dir $@)
	gcc $(HOST_CFLAGS) -o $@ $< $($*_SRCS) -lcmocka

.SECONDEXPANSION:
$(HOST_TEST_BINS): $$($$(notdir $$@)_SRCS)

# deps-ok installs missing Debian packages once per build tree.
.PHONY: deps-ok
deps-ok:
	@[ -f $(B)/.deps-ok ] || { scripts/deps.sh && mkdir -p $(B) && touch $(B)/.deps-ok; }

# Linux as the control domain running the example VMM; run-uefi: the VMM as a UEFI app.
run: all $(B)/esp-linux-demo.img
	scripts/run.sh $(B)/esp-linux-demo.img

run-uefi: all
	scripts/run.sh $(B)/esp-vmm.img

test-host: $(HOST_TEST_BINS)
	scripts/test-host.sh $(HOST_TEST_BINS)

# The UEFI bench (hvbench.efi), then the same figures with Linux as the control domain.
bench: all $(B)/esp-linux-bench.img
	scripts/bench.sh

test-machine: all $(B)/esp-linux-hvl.img
	scripts/test-machine.sh

# The long hypercall storm: the suite built with STORM_CALLS per CPU, Bochs with 4 CPUs.
STORM_CALLS ?= 2000000
stress: deps-ok
	$(MAKE) B=$(B)/stress EXTRA_CFLAGS=-DHVTEST_STORM_CALLS=$(STORM_CALLS) $(B)/stress/esp.img
	scripts/stress.sh $(B)/stress

test: deps-ok
	scripts/test.sh

clean:
	rm -rf $(B)

# ---- Linux programs (docs/linux.md): the driver, libhv for Linux, the VMM and tests ----
# hvmetal.ko is built by kbuild against the Debian cloud kernel's headers (one ABI with
# the kernel the tests boot); the userspace parts with the host gcc, -Werror. Static
# programs for the test initramfs, which has no C library.
LX := $(B)/linux-cd
LINUX_HEADERS ?= $(lastword $(sort $(wildcard /usr/src/linux-headers-*-cloud-amd64)))
LX_CFLAGS := -std=gnu11 -O2 -g $(WARN) -DHVMETAL_LINUX -Iinclude -I.
LIBHV_LINUX_SRCS := libhv/hvmetal.c libhv/hv_vm.c libhv/hv_vcpu.c libhv/hv_apic.c libhv/hv_never.c \
	libhv/hv_vm_allocate_linux.c libhv/hvmetal_linux.c
LX_VMM_SRCS := examples/vmm/vmm.c examples/vmm/guest_dos.c examples/vmm/guest_long.c \
	examples/vmm/guest_smp.c examples/vmm/platform_linux.c examples/vmm/guests.asm \
	examples/vmm/smp.asm
LX_TEST_SRCS := $(sort $(wildcard tests/linux/hvlt*.c))
LX_MODULE_SRCS := $(wildcard linux/*.c linux/*.h linux/shim/*.h) linux/Kbuild \
	$(wildcard include/hvmetal/*.h include/Hypervisor/*.h)
LX_BENCH_MODULE_SRCS := tests/linux/bench/hvmetal_bench.c tests/linux/bench/Kbuild \
	$(wildcard linux/shim/*.h include/hvmetal/*.h include/Hypervisor/*.h)

.PHONY: linux clean-linux
linux: $(LX)/hvmetal.ko $(LX)/libhv-linux.a $(LX)/libhv.so $(LX)/vmm $(LX)/mbvmm $(LX)/hvltest \
	$(LX)/hvlbench $(LX)/hvmetal_bench.ko

$(LX)/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	gcc $(LX_CFLAGS) -MMD -c $< -o $@

$(LX)/pic/%.c.o: %.c
	@mkdir -p $(dir $@)
	gcc $(LX_CFLAGS) -fPIC -MMD -c $< -o $@

$(LX)/obj/%.asm.o: %.asm
	@mkdir -p $(dir $@)
	nasm -f elf64 -Werror -I. -MD $(@:.o=.d) -o $@ $<

$(LX)/libhv-linux.a: $(patsubst %,$(LX)/obj/%.o,$(LIBHV_LINUX_SRCS))
	rm -f $@
	ar rcs $@ $^

$(LX)/libhv.so: $(patsubst %,$(LX)/pic/%.o,$(LIBHV_LINUX_SRCS))
	gcc -shared -Wl,-soname,libhv.so -Wl,-z,defs -o $@ $^

$(LX)/vmm: $(patsubst %,$(LX)/obj/%.o,$(LX_VMM_SRCS)) $(LX)/libhv-linux.a
	gcc -static -pthread -o $@ $^

$(LX)/mbvmm: $(patsubst %,$(LX)/obj/%.o,$(MBVMM_SRCS) examples/vmm/platform_linux.c) $(LX)/libhv-linux.a
	gcc -static -pthread -o $@ $^

$(LX)/hvltest: $(patsubst %,$(LX)/obj/%.o,$(LX_TEST_SRCS)) $(LX)/libhv-linux.a
	gcc -static -pthread -o $@ $^

# make bench's figures from a Linux process (tests/linux/hvlbench.c).
$(LX)/hvlbench: $(LX)/obj/tests/linux/hvlbench.c.o $(LX)/libhv-linux.a
	gcc -static -o $@ $^

# kbuild writes its objects next to the sources (linux/.gitignore); MAKEFLAGS stays out.
$(LX)/hvmetal.ko: $(LX_MODULE_SRCS) | $(LINUX)/linux.env
	@test -d "$(LINUX_HEADERS)" || { echo "no kernel headers: scripts/deps.sh"; exit 1; }
	MAKEFLAGS= $(MAKE) -C $(LINUX_HEADERS) M=$(CURDIR)/linux modules
	@mkdir -p $(dir $@)
	strip --strip-debug -o $@ linux/hvmetal.ko

# make bench's inside-hvmetal figures under Linux: a bench module, not the driver
# (tests/linux/bench/, its own Kbuild; it measures at load time and never stays loaded).
$(LX)/hvmetal_bench.ko: $(LX_BENCH_MODULE_SRCS) | $(LINUX)/linux.env
	@test -d "$(LINUX_HEADERS)" || { echo "no kernel headers: scripts/deps.sh"; exit 1; }
	MAKEFLAGS= $(MAKE) -C $(LINUX_HEADERS) M=$(CURDIR)/tests/linux/bench modules
	@mkdir -p $(dir $@)
	strip --strip-debug -o $@ tests/linux/bench/hvmetal_bench.ko

# The driver's tests in the machine: an initramfs whose /test.sh is the smoke test
# (what tests/linux/run.sh checks) and then tests/linux/hvl.sh, with the module, hvltest,
# the VMM, and the Multiboot VMM with its test kernels; the ESP image boots it like
# build/esp-linux.img.
$(LX)/hvl-test.sh: tests/linux/smoke.sh tests/linux/hvl.sh
	@mkdir -p $(dir $@)
	cat $^ > $@

$(B)/initrd-hvl.gz: scripts/mkinitrd.sh $(LX)/hvl-test.sh $(LX)/hvmetal.ko $(LX)/hvltest $(LX)/vmm \
		$(LX)/mbvmm $(B)/mbvmm/mbtest.elf tests/mbvmm/mbtest.env $(B)/mbvmm/mbsmp.elf | $(LINUX)/linux.env
	scripts/mkinitrd.sh $@ $(LX)/hvl-test.sh $(LX)/hvmetal.ko $(LX)/hvltest $(LX)/vmm \
		$(LX)/mbvmm $(B)/mbvmm/mbtest.elf tests/mbvmm/mbtest.env $(B)/mbvmm/mbsmp.elf

$(B)/esp-linux-hvl.img: $(B)/acpi-bochs.efi $(B)/hvmetal.efi tests/linux/hvmetal.cfg \
		$(B)/initrd-hvl.gz scripts/mkesp-linux.sh $(LINUX)/linux.env
	. $(LINUX)/linux.env && scripts/mkesp-linux.sh $@ $(B)/acpi-bochs.efi $(B)/hvmetal.efi \
		tests/linux/hvmetal.cfg "$$LINUX_VMLINUZ" $(B)/initrd-hvl.gz

# Boots it (tests/linux/run.sh: Bochs with 1 and 2 CPUs, QEMU TCG) and checks the
# driver's lines on each (tests/linux/hvl-check.sh). CASES=bochs-1cpu picks some.
# make run's demo: the same boot, whose /test.sh loads the driver and runs the example VMM.
$(B)/initrd-demo.gz: scripts/mkinitrd.sh tests/linux/demo.sh $(LX)/hvmetal.ko $(LX)/vmm \
		| $(LINUX)/linux.env
	scripts/mkinitrd.sh $@ tests/linux/demo.sh $(LX)/hvmetal.ko $(LX)/vmm

$(B)/esp-linux-demo.img: $(B)/acpi-bochs.efi $(B)/hvmetal.efi tests/linux/hvmetal.cfg \
		$(B)/initrd-demo.gz scripts/mkesp-linux.sh $(LINUX)/linux.env
	. $(LINUX)/linux.env && scripts/mkesp-linux.sh $@ $(B)/acpi-bochs.efi $(B)/hvmetal.efi \
		tests/linux/hvmetal.cfg "$$LINUX_VMLINUZ" $(B)/initrd-demo.gz

# make bench's Linux part (scripts/bench.sh boots it under Bochs with 1 CPU): an initramfs
# whose /test.sh is tests/linux/bench.sh, with the driver, the bench module and hvlbench.
$(B)/initrd-bench.gz: scripts/mkinitrd.sh tests/linux/bench.sh $(LX)/hvmetal.ko \
		$(LX)/hvmetal_bench.ko $(LX)/hvlbench | $(LINUX)/linux.env
	scripts/mkinitrd.sh $@ tests/linux/bench.sh $(LX)/hvmetal.ko $(LX)/hvmetal_bench.ko \
		$(LX)/hvlbench

$(B)/esp-linux-bench.img: $(B)/acpi-bochs.efi $(B)/hvmetal.efi tests/linux/hvmetal.cfg \
		$(B)/initrd-bench.gz scripts/mkesp-linux.sh $(LINUX)/linux.env
	. $(LINUX)/linux.env && scripts/mkesp-linux.sh $@ $(B)/acpi-bochs.efi $(B)/hvmetal.efi \
		tests/linux/hvmetal.cfg "$$LINUX_VMLINUZ" $(B)/initrd-bench.gz

.PHONY: test-linux-driver
test-linux-driver: $(B)/esp-linux-hvl.img
	tests/linux/hvl-run.sh $(B)/esp-linux-hvl.img $(CASES)

clean-linux:
	rm -rf $(LX)
	[ ! -d "$(LINUX_HEADERS)" ] || MAKEFLAGS= $(MAKE) -C $(LINUX_HEADERS) M=$(CURDIR)/linux clean
	[ ! -d "$(LINUX_HEADERS)" ] || MAKEFLAGS= $(MAKE) -C $(LINUX_HEADERS) \
		M=$(CURDIR)/tests/linux/bench clean

-include $(shell find $(LX) -name '*.d' 2>/dev/null)
# ---- end of Linux programs ----

# ---- Fuzzing (README.md, "Fuzzing"): libFuzzer harnesses over the real sources. ----
# `make fuzz` runs each for FUZZ_SECONDS; `make fuzz-smoke` (part of `make test`)
# runs each for FUZZ_SMOKE_RUNS inputs over its committed corpus.
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -DHVMETAL_HOST_TEST -Iinclude -I.
FUZZERS := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
fuzz_insn_decode_SRCS := cd/insn_decode.c
fuzz_config_SRCS := boot/config.c kernel/log.c
fuzz_vmcs_policy_SRCS := vmx/vmcs_policy.c vmx/vmx_caps.c
fuzz_ept_SRCS :=
fuzz_guest_pt_SRCS := kernel/guest_pt.c hypercall/uaccess.c kernel/memmap.c
fuzz_apic_SRCS := apic/vlapic.c apic/vintr.c apic/vioapic.c apic/vatpic.c apic/ipi_dest.c apic/lsc.c
FUZZ_BINS := $(patsubst %,$(B)/fuzz/%,$(FUZZERS))
# Sources of a harness built without comparison tracing (still with edge coverage
# and the sanitizers): loops over table entries whose compares give the fuzzer
# nothing to aim at and took half of its time. fuzz_<name>_NOCMP lists them.
FUZZ_NOCMP_CFLAGS := $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_CFLAGS)) \
	-fno-sanitize-coverage=trace-cmp
fuzz_ept_NOCMP := ept/ept.c kernel/pool.c
# The hypercall layer and the VM, vCPU and run code under it, on the fake CPU of
# tests/fuzz/fake_cpu.c (force-included: the instruction wrappers become its).
fuzz_hypercall_SRCS := hypercall/hypercall.c hypercall/hc_vm.c hypercall/hc_vcpu.c hypercall/hc_apic.c \
	hypercall/uaccess.c vm/vm.c vm/vapic.c vm/vcpu.c vm/vcpu_apic.c vm/vcpu_apicv.c vm/vcpu_move.c vm/vcpu_run.c \
	vmx/vmx_cpu.c vmx/vmx_exit.c vmx/vmcs.c \
	kernel/kick.c apic/vlapic.c apic/vintr.c apic/vioapic.c apic/vatpic.c apic/ipi_dest.c apic/lsc.c apic/apicv.c
fuzz_hypercall_NOCMP := tests/fuzz/fake_cpu.c ept/ept.c kernel/pool.c vmx/vmcs_policy.c \
	vmx/vmx_caps.c kernel/guest_pt.c kernel/memmap.c kernel/xstate.c vm/vcpu_regs.c
fuzz_hypercall_FLAGS := -include tests/fuzz/fake_cpu.h
fuzz_hypercall_DEPS := tests/fuzz/fake_cpu.h
fuzz_nocmp_objs = $(patsubst %.c,$(B)/fuzz/nocmp/%.o,$($(1)_NOCMP))

.PRECIOUS: $(B)/fuzz/nocmp/%.o
$(B)/fuzz/nocmp/%.o: %.c | fuzz-deps-ok
	@mkdir -p $(dir $@)
	clang $(FUZZ_NOCMP_CFLAGS) -MMD -c $< -o $@

$(B)/fuzz/%: tests/fuzz/%.c $$($$*_SRCS) $$($$*_DEPS) $$(call fuzz_nocmp_objs,$$*) | fuzz-deps-ok
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $($*_FLAGS) -o $@ $< $($*_SRCS) $(call fuzz_nocmp_objs,$*)

# A build tree older than the fuzzers has its deps stamp but maybe no clang.
.PHONY: fuzz fuzz-smoke fuzz-deps-ok
fuzz-deps-ok: deps-ok
	@command -v clang >/dev/null || scripts/deps.sh

fuzz: $(FUZZ_BINS)
	scripts/fuzz.sh long $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	scripts/fuzz.sh smoke $(FUZZ_SMOKE_RUNS) $(FUZZ_BINS)
# ---- end of fuzzing ----

-include $(shell find $(B)/efi $(B)/efi-failap $(B)/fuzz/nocmp -name '*.d' 2>/dev/null)
