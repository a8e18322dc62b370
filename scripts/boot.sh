#!/usr/bin/env bash
# boot.sh VEHICLE CPUS ESP_IMAGE LOG TIMEOUT_S
#   VEHICLE: bochs (VMX emulated), qemu-tcg (no VMX), qemu-kvm (/dev/kvm with VT-x)
# Boots the ESP image with OVMF, writes COM1 to LOG, returns the emulator's exit
# status, or 124 when the boot did not end within TIMEOUT_S seconds.
set -uo pipefail
vehicle=$1 cpus=$2 esp=$3 log=$4 timeout_s=$5
ovmf=/usr/share/ovmf/OVMF.fd
work=$(mktemp -d)
# BOOT_KEEP=DIR keeps the emulator's own log there, for debugging.
trap '[ -n "${BOOT_KEEP:-}" ] && cp "$work"/*.log "$work"/*.out "$BOOT_KEEP"/ 2>/dev/null; rm -rf "$work"' EXIT
: > "$log"
# The emulator gets its own copy: a rebuild or a second boot cannot touch it meanwhile.
cp "$esp" "$work/esp.img"
esp=$work/esp.img

case $vehicle in
bochs)
	cat > "$work/bochsrc" <<EOT
megs: 2048
cpu: model=tigerlake, count=$cpus, ips=50000000
romimage: file=$ovmf, address=0xffe00000
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=disk, path=$esp, mode=flat
boot: disk
display_library: sdl2
com1: enabled=1, mode=file, dev=$log
log: $work/bochs.log
panic: action=fatal
error: action=report
clock: sync=none, time0=local
EOT
	echo c > "$work/rc"
	SDL_VIDEODRIVER=dummy timeout --foreground -k 5 "$timeout_s" \
		bochs -q -f "$work/bochsrc" -rc "$work/rc" > "$work/bochs.out" 2>&1
	rc=$?
	# Bochs quits through its "fatal" action on the ACPI soft power-off. Bochs 2.7 at
	# times crashes on its way out after it (bash then says "Segmentation fault").
	if grep -q "ACPI control: soft power off" "$work/bochs.log" 2>/dev/null; then
		[ $rc -gt 128 ] && [ $rc -ne 124 ] &&
			echo "boot: bochs died of signal $((rc - 128)) after the guest's power-off: counted as the power-off" >&2
		rc=0
	elif [ $rc -ne 124 ]; then
		echo "boot: bochs exited $rc without a power-off; its last log lines:" >&2
		tail -n 5 "$work/bochs.log" >&2
		[ $rc -eq 0 ] && rc=1
	fi
	exit $rc ;;
qemu-tcg|qemu-kvm)
	accel=tcg cpu=max
	[ "$vehicle" = qemu-kvm ] && accel=kvm cpu=host
	timeout --foreground -k 5 "$timeout_s" qemu-system-x86_64 -machine q35,accel=$accel \
		-cpu $cpu -smp "$cpus" -m 512 -bios "$ovmf" -drive format=raw,file="$esp" \
		-display none -serial file:"$log" -monitor none -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 > "$work/qemu.out" 2>&1
	exit $? ;;
*)
	echo "boot: unknown vehicle $vehicle" >&2
	exit 2 ;;
esac
