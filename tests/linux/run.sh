#!/usr/bin/env bash
# tests/linux/run.sh [IMAGE [CASE...]]: boots Linux as hvmetal's control domain
# (IMAGE, default build/esp-linux.img: `make build/esp-linux.img`) and checks the
# serial port. Cases, one emulator at a time (default: all, in this order):
#   bochs-1cpu  Bochs, VT-x emulated, 1 CPU: hvmetal runs, Linux under it
#   bochs-2cpu  the same with 2 CPUs: Linux starts its AP through hvmetal's INIT/SIPI
#   qemu-tcg    QEMU without VT-x: hvmetal refuses, Linux boots natively
# Each must reach /init, run the smoke test (tests/linux/smoke.sh) and power off by
# itself within its timeout, with no hvmetal PANIC and no kernel panic. A panic ends
# the boot at once instead of waiting out the timeout. Logs: build/linux-test/CASE.*
# LINUX_TIMEOUT_X=N multiplies the timeouts (an initramfs with longer tests).
# The timeouts leave room for a loaded machine: with the 2 cores busy with other
# emulators, 1 CPU took 125 s and 2 CPUs 259 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
image=${1:-build/esp-linux.img}
shift $(( $# > 0 ))
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(bochs-1cpu bochs-2cpu qemu-tcg)
out=build/linux-test
mkdir -p "$out"
[ -f "$image" ] || { echo "linux: no $image (make build/esp-linux.img)" >&2; exit 1; }

n=0 failed=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

# Serial text without CRs and the firmware console's escape sequences.
clean() {
	tr -d '\r' < "$1" | sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g'
}

# Boots one case; watches the serial port for the /init marker (its time) and for a panic
# (then stops the emulator through boot.sh's timeout process, so boot.sh cleans up).
boot() {
	local vehicle=$1 cpus=$2 timeout_s=$3 log=$4 pid tpid t0 now
	init_s=- panic=
	t0=$(date +%s)
	rm -rf "$log.keep"
	mkdir -p "$log.keep"
	BOOT_KEEP=$log.keep scripts/boot.sh "$vehicle" "$cpus" "$image" "$log" "$timeout_s" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		now=$(date +%s)
		if [ "$init_s" = - ] && grep -a -q 'linux-cd: init reached' "$log"; then
			init_s=$((now - t0))
		fi
		if [ -z "$panic" ] && grep -a -q -E 'PANIC|Kernel panic|end Kernel panic' "$log"; then
			panic=1
			sleep 3	# the rest of the panic's lines
			tpid=$(pgrep -P "$pid" -x timeout)
			[ -n "$tpid" ] && kill "$tpid"
		fi
	done
	wait "$pid"
	rc=$?
	# QEMU stopped by a signal exits 0: a boot ended for its panic has not powered off.
	[ -z "$panic" ] || rc=125
	secs=$(( $(date +%s) - t0 ))
}

for c in "${cases[@]}"; do
	case $c in
	bochs-1cpu) vehicle=bochs cpus=1 timeout_s=600
		hv="hvmetal: running: control domain on 1 CPUs" ;;
	bochs-2cpu) vehicle=bochs cpus=2 timeout_s=900
		hv="hvmetal: running: control domain on 2 CPUs" ;;
	qemu-tcg) vehicle=qemu-tcg cpus=1 timeout_s=120
		hv="hvmetal: not started: no VT-x" ;;
	*) echo "linux: unknown case $c (bochs-1cpu, bochs-2cpu, qemu-tcg)" >&2; exit 2 ;;
	esac
	timeout_s=$((timeout_s * ${LINUX_TIMEOUT_X:-1}))
	log=$out/$c.serial
	echo "linux: $c: booting $image on $vehicle with $cpus CPUs (timeout ${timeout_s}s)"
	boot "$vehicle" "$cpus" "$timeout_s" "$log"
	clean "$log" > "$out/$c.txt"
	txt=$out/$c.txt
	echo "linux: $c: /init after ${init_s}s, ended after ${secs}s (exit $rc${panic:+, stopped at a panic})"
	[ $rc -eq 0 ]; check $? "$c: powered off by itself within ${timeout_s}s"
	! grep -a -q 'PANIC' "$txt"; check $? "$c: no hvmetal PANIC"
	! grep -a -q 'Kernel panic' "$txt"; check $? "$c: no kernel panic"
	grep -a -q -F "$hv" "$txt"; check $? "$c: serial shows '$hv'"
	grep -a -q -x 'linux-cd: init reached' "$txt"; check $? "$c: Linux reached /init"
	grep -a -q -x "linux-cd: cpus online $cpus" "$txt"; check $? "$c: Linux runs on $cpus CPUs"
	grep -a -q -F 'initrd: /test.sh exited 0;' "$txt"; check $? "$c: the smoke test finished"
	grep -a -q 'reboot: Power down' "$txt"; check $? "$c: Linux powered the machine off"
	grep -a -E '^(hvmetal|acpi-bochs|linux-cd):' "$txt" | sed 's/^/    /'
done
echo "1..$n"
echo "linux: $((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
