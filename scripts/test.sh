#!/usr/bin/env bash
# `make test`: host unit tests, a fuzzing smoke, then the in-machine suite; prints each stage's time.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
rm -f build/counts.host build/counts.fuzz build/counts.machine
stage() {
	local name=$1; shift
	local start=$(date +%s)
	echo "=== $name"
	"$@"
	local rc=$?
	echo "=== $name: $([ $rc -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start ))s"
	[ $rc -eq 0 ] || status=1
}
stage "build" make -s all
stage "host unit tests" make -s test-host
stage "fuzz smoke (libFuzzer, one pass per harness)" make -s fuzz-smoke
stage "Linux control domain images (driver, libhv, VMM, tests)" make -s build/esp-linux-hvl.img
stage "in-machine suite (Bochs 1, 2 and 4 CPUs, QEMU TCG; hvtest and Linux)" scripts/test-machine.sh
pass=0 fail=0
for f in build/counts.host build/counts.fuzz build/counts.machine; do
	[ -f "$f" ] || { fail=$((fail + 1)); continue; }
	read -r p q < "$f"
	pass=$((pass + p)); fail=$((fail + q))
done
[ $status -eq 0 ] || [ $fail -gt 0 ] || fail=1
echo "tests: $pass passed, $fail failed"
exit $status
