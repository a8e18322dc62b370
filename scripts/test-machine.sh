#!/usr/bin/env bash
# The in-machine suite: boots build/esp.img on each vehicle, turns what the serial
# port shows into TAP (hvtest's own lines plus this harness's boot checks) and
# runs it all through prove. Fails on any "not ok", a missing plan, a boot that
# does not power off in time, or a hypervisor panic. The example VMM's image
# (build/esp-vmm.img) boots too: its case checks the lines below, in order.
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/machine
rm -rf "$out"
mkdir -p "$out"

# A second image whose hvmetal.cfg asks for a 16 MiB pool, on a CPU without VPID,
# 1 GiB EPT pages and APIC-access virtualization (vmx_hide): their fallbacks run.
printf '# hvmetal.cfg for the test suite\npool_mib = 16\nvmx_hide = vpid ept_1g apic_access apicv\nnext = \\EFI\\hvmetal\\hvtest.efi\n' > "$out/hvmetal.cfg"
scripts/mkesp.sh "$out/esp-cfg.img" build/hvmetal.efi build/hvtest.efi "$out/hvmetal.cfg"
# And one that allows fewer CPUs than the machine has: hvmetal must not start at all.
mkdir -p "$out/max1"
printf 'max_cpus = 1\nnext = \\EFI\\hvmetal\\hvtest.efi\n' > "$out/max1/hvmetal.cfg"
scripts/mkesp.sh "$out/esp-max1.img" build/hvmetal.efi build/hvtest.efi "$out/max1/hvmetal.cfg"

# What the example VMM (examples/vmm) and its guests print, in this order
# (examples/vmm/vmm.expect: the Linux program prints the same, tests/linux/hvl-check.sh).
mapfile -t vmm_expect < examples/vmm/vmm.expect
printf '%s\n' "${vmm_expect[@]}" > "$out/vmm.expect"

# name vehicle cpus image timeout expected-line (names vmm-*: the example VMM's image);
# the longest first. Timeouts leave room for boots sharing the cores.
cases=(
	"bochs-4cpu bochs 4 build/esp.img 1500 hvmetal: running: control domain on 4 CPUs"
	"linux-bochs-2cpu bochs 2 build/esp-linux-hvl.img 1500 hvmetal: running: control domain on 2 CPUs"
	"linux-bochs-1cpu bochs 1 build/esp-linux-hvl.img 1200 hvmetal: running: control domain on 1 CPUs"
	"bochs-1cpu bochs 1 build/esp.img 600 hvmetal: running: control domain on 1 CPUs"
	"bochs-cfg-pool16 bochs 1 $out/esp-cfg.img 600 free of 16380 KiB after setup"
	"vmm-bochs-2cpu bochs 2 build/esp-vmm.img 500 vmm: SMP guest: two CPUs: vCPU 0 runs on this one, vCPU 1 on another"
	"vmm-bochs-1cpu bochs 1 build/esp-vmm.img 400 vmm: SMP guest: one CPU: vCPU 0 and vCPU 1 take turns"
	"mbvmm-bochs-1cpu bochs 1 build/esp-mbvmm.img 300 mbvmm: the guest wrote the exit port: status 1"
	"mbsmp-bochs-2cpu bochs 2 build/esp-mbsmp.img 400 mbvmm: the guest wrote the exit port: status 1"
	"bochs-x2apic-2cpu bochs 2 build/esp-x2apic.img 900 x2apic-boot: 2 of 2 CPUs in x2APIC mode"
	"bochs-2cpu-max1 bochs 2 $out/esp-max1.img 300 hvmetal: not started: more CPUs than max_cpus in hvmetal.cfg"
	"bochs-2cpu-park bochs 2 build/esp-park.img 400 hvmetal: cpu 1: parked in hvmetal's memory, in VMX root (INIT blocked)"
	"qemu-tcg-novmx qemu-tcg 1 build/esp.img 120 hvmetal: not started: no VT-x"
	"linux-qemu-tcg qemu-tcg 1 build/esp-linux-hvl.img 300 hvmetal: not started: no VT-x"
)

# One case: boot, then its TAP (hvtest's own lines and this harness's boot checks).
run_case() {
	local name vehicle cpus image timeout_s expect
	read -r name vehicle cpus image timeout_s expect <<<"$1"
	log=$out/$name.serial
	start=$(date +%s)
	scripts/boot.sh "$vehicle" "$cpus" "$image" "$log" "$timeout_s"
	rc=$?
	secs=$(( $(date +%s) - start ))
	echo "machine: $name: booted and ran in ${secs}s (exit $rc)"
	# Serial text without CRs and the firmware console's escape sequences.
	clean=$out/$name.txt
	tr -d '\r' < "$log" | sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' > "$clean"
	# Linux boots (build/esp-linux-hvl.img): the driver's tests, checked by hvl-check.sh.
	if [[ $name == linux-* ]]; then
		mode=present
		[[ $vehicle == qemu-* ]] && mode=absent
		tests/linux/hvl-check.sh "$clean" "$mode" > "$out/$name.driver.tap"
	elif [[ $name != vmm-* ]]; then
		grep -a -E '^(ok|not ok|1\.\.|#)' "$clean" > "$out/$name.suite.tap"
	fi
	{
		n=0
		check() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
		[ $rc -eq 0 ]; check $? "$name: machine powered off by itself within ${timeout_s}s"
		! grep -a -q 'PANIC' "$clean"; check $? "$name: no hvmetal panic on the serial port"
		grep -a -q -F "$expect" "$clean"; check $? "$name: serial shows '$expect'"
		if [[ $name == vmm-* ]]; then
			for line in "${vmm_expect[@]}"; do
				grep -a -q -F -- "$line" "$clean"; check $? "$name: serial shows '$line'"
			done
			awk 'NR == FNR { want[++n] = $0; next }
			     i < n && index($0, want[i + 1]) { i++ }
			     END { exit (i < n) }' "$out/vmm.expect" "$clean"
			check $? "$name: those lines come in that order"
			! grep -a -q -E '^not ok|^vmm: error' "$clean"; check $? "$name: no 'not ok' and no 'vmm: error' line"
		elif [[ $name != linux-* ]]; then
			grep -a -q -E '^1\.\.[1-9]' "$clean"; check $? "$name: hvtest printed its plan"
		fi
		echo "1..$n"
	} > "$out/$name.boot.tap"
}

# Side by side, one boot per core (each emulator is single-threaded).
jobs_max=$(nproc 2>/dev/null || echo 2)
for c in "${cases[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
	run_case "$c" &
done
wait

prove -v --exec cat "$out"/*.tap
rc=$?
pass=$(cat "$out"/*.tap | grep -c '^ok')
fail=$(cat "$out"/*.tap | grep -c '^not ok')
echo "$pass $fail" > build/counts.machine
exit $rc
