#!/usr/bin/env bash
# `make bench`: boots hvbench.efi under Bochs (1 CPU: its TSC counts instructions
# exactly) and prints the path-length table.
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out"
printf 'next = \\EFI\\hvmetal\\hvbench.efi\n' > "$out/hvmetal.cfg"
scripts/mkesp.sh "$out/esp.img" build/hvmetal.efi build/hvtest.efi "$out/hvmetal.cfg"
mcopy -o -i "$out/esp.img" build/hvbench.efi ::/EFI/hvmetal/hvbench.efi
scripts/boot.sh bochs 1 "$out/esp.img" "$out/serial" 900
rc=$?
tr -d '\r' < "$out/serial" | sed -n 's/^bench: //p' | tee "$out/table.txt"
grep -q '^done' "$out/table.txt" && [ $rc -eq 0 ]
