#!/usr/bin/env bash
# Runs the host unit tests (cmocka, built with ASan+UBSan); writes the counts
# of passed and failed tests to build/counts.host.
set -uo pipefail
pass=0 fail=0 bad=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	if [ $rc -ne 0 ] || [ -z "$p" ]; then
		bad=$((bad + 1))
		[ -z "$f" ] && fail=$((fail + 1))	# crashed before its summary
		echo "host: $t FAILED (exit $rc)"
	fi
done
mkdir -p build
echo "$pass $fail" > build/counts.host
echo "host unit tests: $pass passed, $fail failed"
[ $bad -eq 0 ]
