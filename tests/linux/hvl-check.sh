#!/usr/bin/env bash
# hvl-check.sh SERIAL_LOG present|absent: TAP of what a boot of the driver's tests
# (tests/linux/hvl.sh in the initramfs) shows on the serial port. "present": Linux
# under hvmetal: the module finds hvmetal, hvltest passes all its cases, the example
# VMM prints examples/vmm/vmm.expect in order, mbvmm's test kernels pass, the kernel
# reports nothing wrong.
# "absent": no VT-x (QEMU TCG): the module says so and /dev/hvmetal answers ENODEV.
set -uo pipefail
cd "$(dirname "$0")/../.."
log=$1 mode=${2:-present}
txt=$(mktemp)
trap 'rm -f "$txt"' EXIT
tr -d '\r' < "$log" | sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' > "$txt"

n=0 failed=0
check() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
has() { grep -a -q -E -- "$1" "$txt"; }

has '^hvl: insmod hvmetal.ko: ok$'; check $? "hvmetal.ko loads"
if [ "$mode" = present ]; then
	has '^hvl: dmesg: .*hvmetal: ABI 1 on [0-9]+ CPUs'; check $? "the module finds hvmetal"
else
	has '^hvl: dmesg: .*hvmetal: absent'; check $? "the module says 'hvmetal: absent'"
fi
has '^1\.\.[1-9]'; check $? "hvltest printed its plan ($(grep -a -c -E '^ok [0-9]' "$txt") ok)"
! has '^not ok'; check $? "hvltest: no 'not ok' line"
has '^hvl: hvltest exited 0$'; check $? "hvltest exited 0"
if [ "$mode" = present ]; then
	while IFS= read -r line; do
		grep -a -q -F -- "$line" "$txt"; check $? "the example VMM's line '$line'"
	done < examples/vmm/vmm.expect
	awk 'NR == FNR { want[++n] = $0; next }
	     i < n && index($0, want[i + 1]) { i++ }
	     END { exit (i < n) }' examples/vmm/vmm.expect "$txt"
	check $? "the example VMM's lines come in that order"
	! has '^vmm: error'; check $? "no 'vmm: error' line"
	for k in mbtest mbsmp; do
		has "^hvl: mbvmm $k.elf exited 1\$"; check $? "mbvmm as a Linux program: $k.elf passes (QEMU's status 1)"
	done
	! has '^mbvmm: error'; check $? "no 'mbvmm: error' line"
fi
! has '^hvl: dmesg: .*(BUG:|WARNING:|Oops:|Call Trace|stall|blocked for more than)'
check $? "the kernel reported no bug, warning, RCU stall or hung task"
! has 'PANIC|Kernel panic'; check $? "no hvmetal PANIC, no kernel panic"
has '^hvl: done$'; check $? "hvl.sh ran to its end"
echo "1..$n"
[ $failed -eq 0 ]
