#!/usr/bin/env bash
# mkesp-linux.sh OUT FIRST_EFI HVMETAL_EFI CFG VMLINUZ INITRD
#   A 64 MiB FAT ESP image (mtools, no root) that boots Linux as hvmetal's control domain:
#     \EFI\BOOT\BOOTX64.EFI     FIRST_EFI: the test harness's acpi-bochs.efi, which
#                               starts \EFI\hvmetal\hvmetal.efi (or hvmetal.efi itself)
#     \EFI\hvmetal\hvmetal.efi, \EFI\hvmetal\hvmetal.cfg (CFG: next, next_args)
#     \EFI\linux\vmlinuz.efi    the kernel (its EFI stub), \EFI\linux\initrd.gz
set -euo pipefail
out=$1 first=$2 hv=$3 cfg=$4 vmlinuz=$5 initrd=$6
tmp="$out.tmp"
rm -f "$tmp"
truncate -s 64M "$tmp"
mformat -i "$tmp" -h 64 -s 32 -t 64 ::
mmd -i "$tmp" ::/EFI ::/EFI/BOOT ::/EFI/hvmetal ::/EFI/linux
mcopy -i "$tmp" "$first" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$tmp" "$hv" ::/EFI/hvmetal/hvmetal.efi
mcopy -i "$tmp" "$cfg" ::/EFI/hvmetal/hvmetal.cfg
mcopy -i "$tmp" "$vmlinuz" ::/EFI/linux/vmlinuz.efi
mcopy -i "$tmp" "$initrd" ::/EFI/linux/initrd.gz
mv "$tmp" "$out"
