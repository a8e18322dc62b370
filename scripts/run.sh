#!/usr/bin/env bash
# `make run`: boots hvmetal and its demo on the best vehicle here and shows the
# serial port live. QEMU/KVM when /dev/kvm exists on a VT-x CPU, else Bochs.
# run.sh [IMAGE]: `make run` passes build/esp-linux-demo.img (Linux as the control
# domain running the example VMM), `make run-uefi` build/esp-vmm.img; the
# default, build/esp.img, runs the in-machine suite instead.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -w /dev/kvm ] && grep -q -w vmx /proc/cpuinfo; then
	vehicle=qemu-kvm
else
	vehicle=bochs
fi
cpus=${CPUS:-2}
image=${1:-build/esp.img}
log=build/run.serial
echo "run: booting $image on $vehicle with $cpus CPUs (serial below; it powers off by itself)"
: > "$log"
scripts/boot.sh "$vehicle" "$cpus" "$image" "$log" "${RUN_TIMEOUT:-900}" &
boot=$!
tail -f -n +1 --pid=$boot "$log" | tr -d '\r' | sed -u -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g'
wait $boot
rc=$?
echo "run: $vehicle exited ($rc)"
exit $rc
