#!/usr/bin/env bash
# `make stress`: boots the suite built with a long hypercall storm (STORM_CALLS per
# CPU) under Bochs with 4 CPUs; fails on any "not ok", a panic, a hang or no plan.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$1
start=$(date +%s)
scripts/boot.sh bochs 4 "$dir/esp.img" "$dir/serial" 14400
rc=$?
clean=$dir/serial.txt
tr -d '\r' < "$dir/serial" | sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' > "$clean"
grep -a -E '^(not ok|# storm)|storm:' "$clean"
echo "stress: ran in $(( $(date +%s) - start ))s (exit $rc)"
[ $rc -eq 0 ] && ! grep -a -q 'PANIC' "$clean" && grep -a -q -E '^1\.\.[1-9]' "$clean" &&
	! grep -a -q '^not ok' "$clean"
