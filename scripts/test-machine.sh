#!/usr/bin/env bash
# The in-machine suite: boots build/esp.img on each vehicle, turns what the serial
# port shows into TAP (hvtest's own lines plus this harness's boot checks) and
# runs it all through prove. Fails on any "not ok", a missing plan, a boot that
# does not power off in time, or a hypervisor panic.
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/machine
rm -rf "$out"
mkdir -p "$out"

# A second image whose hvmetal.cfg asks for a 16 MiB pool.
printf '# hvmetal.cfg for the test suite\npool_mib = 16\nnext = \\EFI\\hvmetal\\hvtest.efi\n' > "$out/hvmetal.cfg"
scripts/mkesp.sh "$out/esp-cfg.img" build/hvmetal.efi build/hvtest.efi "$out/hvmetal.cfg"

# name vehicle cpus image timeout expected-line
cases=(
	"bochs-1cpu bochs 1 build/esp.img 150 hvmetal: running: control domain on 1 CPUs"
	"bochs-4cpu bochs 4 build/esp.img 300 hvmetal: running: control domain on 4 CPUs"
	"bochs-cfg-pool16 bochs 1 $out/esp-cfg.img 150 free of 16380 KiB after setup"
	"qemu-tcg-novmx qemu-tcg 1 build/esp.img 120 hvmetal: not started: no VT-x"
)

for c in "${cases[@]}"; do
	read -r name vehicle cpus image timeout_s expect <<<"$c"
	log=$out/$name.serial
	start=$(date +%s)
	scripts/boot.sh "$vehicle" "$cpus" "$image" "$log" "$timeout_s"
	rc=$?
	secs=$(( $(date +%s) - start ))
	echo "machine: $name: booted and ran in ${secs}s (exit $rc)"
	# Serial text without CRs and the firmware console's escape sequences.
	clean=$out/$name.txt
	tr -d '\r' < "$log" | sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' > "$clean"
	grep -a -E '^(ok|not ok|1\.\.|#)' "$clean" > "$out/$name.suite.tap"
	{
		n=0
		check() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
		[ $rc -eq 0 ]; check $? "$name: machine powered off by itself within ${timeout_s}s"
		! grep -a -q 'PANIC' "$clean"; check $? "$name: no hvmetal panic on the serial port"
		grep -a -q -F "$expect" "$clean"; check $? "$name: serial shows '$expect'"
		grep -a -q -E '^1\.\.[1-9]' "$clean"; check $? "$name: hvtest printed its plan"
		echo "1..$n"
	} > "$out/$name.boot.tap"
done

prove -v --exec cat "$out"/*.tap
rc=$?
pass=$(cat "$out"/*.tap | grep -c '^ok')
fail=$(cat "$out"/*.tap | grep -c '^not ok')
echo "$pass $fail" > build/counts.machine
exit $rc
