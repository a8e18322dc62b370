#!/usr/bin/env bash
# kvm-unit-tests.sh [DIR]: runs the x86 kvm-unit-tests (built by the user: README,
# "Multiboot VMM") as guests of mbvmm, on hvmetal under Bochs, with QEMU's
# configuration for each (../shared/MULTIBOOT-VMM.md, "Reporting"), and prints TAP:
# each PASS/FAIL/SKIP line a test point, and one point per run for how it ended
# (SUMMARY seen, exit status, within the timeout). DIR (or $KVM_UNIT_TESTS_DIR) is
# the suite's x86/ directory of .flat files; without it this says so and exits 0.
# BOCHS_CPUS (default 1): control-domain CPUs; TIMEOUT (default 1800 s; 9000 s
# for the CR0.WP and CR4.PGE toggles, whose every write flushes Bochs's TLB) per run;
# JOBS (default 1): boots side by side; ONLY: a regular expression of run names
# to keep. Nothing of the suite is built or kept by this project.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${KVM_UNIT_TESTS_DIR:-}}
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
	echo "1..0 # SKIP no kvm-unit-tests directory given (KVM_UNIT_TESTS_DIR or an argument)"
	exit 0
fi
cpus=${BOCHS_CPUS:-1}
timeout_s=${TIMEOUT:-1800}
out=build/kvm-unit-tests/bochs-$cpus
mkdir -p "$out"
make -s build/hvmetal.efi build/mbvmm.efi >/dev/null || exit 1

# name flat vcpus mbvmm-options [argument]
runs=(
	"apic-x2apic apic 2 -cpu x2apic"
	"apic-xapic apic 2 -cpu xapic"
	"ioapic ioapic 4 -cpu x2apic"
	"eventinj eventinj 1"
	"smptest-2 smptest 2"
	"smptest-3 smptest 3"
	"tsc tsc 1"
	"msr msr 1"
)
for b in cpuid vmcall mov_from_cr8 mov_to_cr8 inl_from_pmtimer toggle_cr0_wp toggle_cr4_pge tscdeadline \
	 tscdeadline_immed; do
	runs+=("vmexit-$b vmexit 1 -append $b")
done
runs+=("vmexit-ipi vmexit 2 -append ipi" "vmexit-ipi_halt vmexit 2 -append ipi_halt"
       "vmexit-ple_round_robin vmexit 2 -append ple_round_robin")

# One run, its TAP lines (unnumbered) in $d/tap.
run_one() {
	local name=$1 flat=$2 vcpus=$3 opts=$4 d=$out/$1 rc status summary
	mkdir -p "$d"
	: > "$d/tap"
	printf 'NR_CPUS=%s\n' "$vcpus" > "$d/env"
	printf 'next = \\EFI\\hvmetal\\mbvmm.efi\nnext_args = -smp %s %s -initrd env %s.flat\n' \
		"$vcpus" "$opts" "$flat" > "$d/hvmetal.cfg"
	scripts/mkesp.sh "$d/esp.img" build/hvmetal.efi build/mbvmm.efi "$d/hvmetal.cfg" >/dev/null
	mcopy -o -i "$d/esp.img" "$dir/$flat.flat" "::/$flat.flat"
	mcopy -o -i "$d/esp.img" "$d/env" ::/env
	local t=$timeout_s
	[[ $name == vmexit-toggle_* && -z ${TIMEOUT:-} ]] && t=9000
	scripts/boot.sh bochs "$cpus" "$d/esp.img" "$d/serial" "$t" >/dev/null 2>&1
	rc=$?
	tr -d '\r' < "$d/serial" | sed -n '/hvmetal: starting/,$p' > "$d/out"
	while IFS= read -r line; do
		case $line in
		PASS:*|XFAIL:*) echo "ok $name: ${line#*: }" ;;
		SKIP:*) echo "ok $name: ${line#*: } # SKIP" ;;
		FAIL:*|XPASS:*) echo "not ok $name: ${line#*: }" ;;
		esac
	done < "$d/out" >> "$d/tap"
	# vmexit.flat's figures: "<name> <cycles per iteration>" (under Bochs, instructions).
	[ "$flat" = vmexit ] && grep -E '^[a-z_0-9]+ [0-9]+$' "$d/out" | sed 's/^/# vmexit figure: /' >> "$d/tap"
	status=$(sed -n 's/^mbvmm: the guest wrote the exit port: status \([0-9]*\)$/\1/p' "$d/out")
	summary=$(grep -m1 '^SUMMARY:' "$d/out")
	echo "# $name: ${summary:-no SUMMARY}; exit status ${status:-none}; Bochs exit $rc" >> "$d/tap"
	# QEMU's statuses: 1 passed, 3 failures, 77 all skipped; vmexit prints no SUMMARY.
	if [ $rc -eq 0 ] && { [ "$status" = 1 ] || [ "$status" = 77 ]; } && { [ -n "$summary" ] || [ "$flat" = vmexit ]; }; then
		echo "ok $name ran to its end ($cpus control-domain CPUs)" >> "$d/tap"
	else
		echo "not ok $name ran to its end ($cpus control-domain CPUs)" >> "$d/tap"
	fi
}

# JOBS boots side by side; the TAP comes out in the runs' order, numbered.
names=()
for r in "${runs[@]}"; do
	read -r name flat vcpus opts <<<"$r"
	[[ -n ${ONLY:-} && ! $name =~ $ONLY ]] && continue
	names+=("$name")
	if [ ! -f "$dir/$flat.flat" ]; then
		mkdir -p "$out/$name"
		echo "ok $name # SKIP $flat.flat not built" > "$out/$name/tap"
		continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "${JOBS:-1}" ]; do
		wait -n
	done
	run_one "$name" "$flat" "$vcpus" "${opts:-}" &
done
wait
n=0
for name in "${names[@]}"; do
	while IFS= read -r line; do
		case $line in
		'#'*) echo "$line" ;;
		'not ok '*) n=$((n + 1)); echo "not ok $n - ${line#not ok }" ;;
		'ok '*) n=$((n + 1)); echo "ok $n - ${line#ok }" ;;
		esac
	done < "$out/$name/tap"
done
echo "1..$n"
