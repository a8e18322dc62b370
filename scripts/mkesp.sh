#!/usr/bin/env bash
# mkesp.sh OUT HVMETAL_EFI NEXT_EFI [CFG]: a 32 MiB FAT ESP image built with mtools (no root).
# hvmetal is the removable-media boot path; it chain-loads what hvmetal.cfg names
# (default \EFI\hvmetal\hvtest.efi). NEXT_EFI goes in \EFI\hvmetal\ under its own name.
set -euo pipefail
out=$1 hv=$2 test=$3 cfg=${4:-}
tmp="$out.tmp"
rm -f "$tmp"
truncate -s 32M "$tmp"
mformat -i "$tmp" -h 64 -s 32 -t 32 ::
mmd -i "$tmp" ::/EFI ::/EFI/BOOT ::/EFI/hvmetal
mcopy -i "$tmp" "$hv" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$tmp" "$test" "::/EFI/hvmetal/$(basename "$test")"
if [ -n "$cfg" ]; then
	mcopy -i "$tmp" "$cfg" ::/EFI/hvmetal/hvmetal.cfg
fi
# A file hvtest reads back through UEFI after the late launch.
printf 'hvmetal-esp-readback\n' > "$tmp.txt"
mcopy -i "$tmp" "$tmp.txt" ::/EFI/hvmetal/readback.txt
rm -f "$tmp.txt"
mv "$tmp" "$out"
