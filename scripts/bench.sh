#!/usr/bin/env bash
# `make bench`: boots hvbench.efi under Bochs (1 CPU: its TSC counts instructions
# exactly) and prints the path-length table; then boots Linux as the control domain
# (build/esp-linux-bench.img, tests/linux/bench.sh) the same way and appends its
# figures, named "Linux: ...", to build/bench/table.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out"
# bench_image IMG [CFG LINE]: an ESP whose hvmetal.cfg starts hvbench.efi, after the line given.
bench_image() {
	printf '%s\nnext = \\EFI\\hvmetal\\hvbench.efi\n' "${2:-}" > "$1.cfg"
	scripts/mkesp.sh "$1" build/hvmetal.efi build/hvtest.efi "$1.cfg"
	mcopy -o -i "$1" build/hvbench.efi ::/EFI/hvmetal/hvbench.efi
}
bench_image "$out/esp.img"
scripts/boot.sh bochs 1 "$out/esp.img" "$out/serial" 900
rc=$?
tr -d '\r' < "$out/serial" | sed -n 's/^bench: //p' | tee "$out/table.txt"
# The same image with two CPUs measures only what needs two: an IPI between vCPUs.
scripts/boot.sh bochs 2 "$out/esp.img" "$out/serial-2cpu" 900
rc2=$?
tr -d '\r' < "$out/serial-2cpu" | sed -n 's/^bench: //p' | grep -v '^done' | tee -a "$out/table.txt"
# And with one CPU on a CPU without APIC virtualization (vmx_hide = apicv): the x2APIC
# figures the exits' way, for comparison.
bench_image "$out/esp-noapicv.img" 'vmx_hide = apicv'
scripts/boot.sh bochs 1 "$out/esp-noapicv.img" "$out/serial-noapicv" 900
rc3=$?
tr -d '\r' < "$out/serial-noapicv" | sed -n 's/^bench: //p' | grep -F '(exits to hvmetal)' | tee -a "$out/table.txt"

# Linux: the bench module's lines come through the kernel's log (a timestamp first),
# hvlbench's straight. busybox's insmod tries init_module after finit_module fails, so
# the module (which always fails on purpose) measures twice: identical lines are
# printed once, and two that differ both show.
scripts/boot.sh bochs 1 build/esp-linux-bench.img "$out/serial-linux" 900
lrc=$?
tr -d '\r' < "$out/serial-linux" |
	sed -n 's/^\(\[ *[0-9.]*\] \)\{0,1\}bench: /Linux: /p' | awk '!seen[$0]++' |
	tee -a "$out/table.txt"
grep -q '^done' "$out/table.txt" && grep -q '^Linux: done' "$out/table.txt" &&
	grep -q '^IPI between vCPUs' "$out/table.txt" && grep -q 'exits to hvmetal' "$out/table.txt" &&
	[ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ $rc3 -eq 0 ] && [ $lrc -eq 0 ]
