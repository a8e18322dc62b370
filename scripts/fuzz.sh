#!/usr/bin/env bash
# Runs the libFuzzer harnesses (README.md, "Fuzzing").
#   fuzz.sh smoke RUNS BIN...   each harness over its committed corpus plus RUNS new
#                               inputs; writes pass/fail counts to build/counts.fuzz
#   fuzz.sh long SECONDS BIN... each harness for SECONDS, keeping what it finds in
#                               build/fuzz/corpus/NAME; prints executions per harness
# Corpus files named crash-* are reproducers of known, unfixed bugs: never run here.
# An input running 30 s is a finding too (a hang in VMX root), not something to wait for.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=$1 amount=$2
shift 2
pass=0 fail=0
mkdir -p build/fuzz/artifacts

# Copies the committed corpus of harness $1, reproducers left out, into dir $2.
seed() {
	mkdir -p "$2"
	for f in tests/fuzz/corpus/"$1"/*; do
		case $(basename "$f") in crash-*) continue ;; esac
		[ -f "$f" ] && cp "$f" "$2"/
	done
}

for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	log=build/fuzz/$name.$mode.log
	if [ "$mode" = smoke ]; then
		work=$(mktemp -d)
		seed "$name" "$work"
		"$bin" -runs="$amount" -seed=1 -timeout=30 -print_final_stats=1 \
			-artifact_prefix=build/fuzz/artifacts/"$name"- "$work" >"$log" 2>&1
		rc=$?
		rm -rf "$work"
	else
		seed "$name" build/fuzz/corpus/"$name"
		nice -n 19 "$bin" -max_total_time="$amount" -timeout=30 -print_final_stats=1 \
			-artifact_prefix=build/fuzz/artifacts/"$name"- \
			build/fuzz/corpus/"$name" >"$log" 2>&1
		rc=$?
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		rate=
		[ "$mode" = long ] && rate=" in $amount s (${secs:-?}/s)"
		echo "fuzz $name: ok, ${execs:-?} executions$rate"
	else
		fail=$((fail + 1))
		tail -n 40 "$log"
		echo "fuzz $name: FAILED (exit $rc), see $log and build/fuzz/artifacts/"
	fi
done
if [ "$mode" = smoke ]; then
	echo "$pass $fail" > build/counts.fuzz
	echo "fuzz smoke: $pass passed, $fail failed"
fi
[ $fail -eq 0 ]
