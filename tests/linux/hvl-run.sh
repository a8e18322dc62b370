#!/usr/bin/env bash
# hvl-run.sh IMAGE [CASE...]: the driver's tests in the machine (make test-linux-driver).
# Boots IMAGE (build/esp-linux-hvl.img) through tests/linux/run.sh, which checks each
# boot as it checks the smoke test's, with its timeouts doubled (the tests take longer),
# then checks the driver's lines of each boot with hvl-check.sh: "present" under Bochs,
# "absent" under QEMU TCG (no VT-x). hvltest's own lines are shown under each case.
set -uo pipefail
cd "$(dirname "$0")/../.."
image=$1
shift
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(bochs-1cpu bochs-2cpu qemu-tcg)
LINUX_TIMEOUT_X=${LINUX_TIMEOUT_X:-2} tests/linux/run.sh "$image" "${cases[@]}"
rc=$?
for c in "${cases[@]}"; do
	txt=build/linux-test/$c.txt
	mode=present
	[ "$c" = qemu-tcg ] && mode=absent
	echo "linux-driver: $c: hvltest said:"
	grep -a -E '^(ok|not ok) [0-9]+|^# hvltest' "$txt" | sed 's/^/    /'
	echo "linux-driver: $c: the driver's checks ($mode):"
	tests/linux/hvl-check.sh "$txt" "$mode" > "build/linux-test/$c.driver.tap"
	[ $? -eq 0 ] || rc=1
	sed 's/^/    /' "build/linux-test/$c.driver.tap"
done
echo "linux-driver: $([ $rc -eq 0 ] && echo passed || echo FAILED)"
exit $rc
