#!/usr/bin/env bash
# mkinitrd.sh OUT TEST_SCRIPT [FILE[:/PATH] ...]
#   A busybox initramfs for the Linux control domain's tests (gzip'd newc cpio):
#   busybox-static as /bin/busybox with a link per applet, TEST_SCRIPT as /test.sh,
#   each FILE at /PATH (default /BASENAME: a module, a test program), and an /init that
#   mounts devtmpfs, proc and sysfs, runs /test.sh, says how it ended and powers off.
#   Linux needs `rdinit=/init` (and `initrd=` to find it, from the EFI stub).
# The kernel's built-in initramfs already has /dev/console, so nothing here needs root.
set -euo pipefail
out=$1 script=$2
shift 2
bb=/bin/busybox
[ -x "$bb" ] && "$bb" --list | grep -x cpio >/dev/null || {
	echo "mkinitrd: no busybox-static at $bb (scripts/deps.sh installs it)" >&2
	exit 1
}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root}
cp "$bb" "$root/bin/busybox"
# --list-full names each applet with its directory (bin/sh, sbin/poweroff, ...).
"$bb" --list-full | while read -r applet; do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
install -m 0755 "$script" "$root/test.sh"
for f in "$@"; do
	src=${f%%:*} dst=/$(basename "${f%%:*}")
	[[ $f == *:* ]] && dst=${f#*:}
	case $dst in
	/*) ;;
	*) echo "mkinitrd: $f: the path inside must be absolute" >&2; exit 1 ;;
	esac
	mkdir -p "$root$(dirname "$dst")"
	cp "$src" "$root$dst"
done

cat > "$root/init" <<'EOF'
#!/bin/sh
# /init of mkinitrd.sh's initramfs: mount, run /test.sh, power off. Never returns
# (init exiting would be a kernel panic).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "initrd: /init running, /test.sh next"
sh /test.sh
echo "initrd: /test.sh exited $?; powering off"
# The serial console drains after the writers are done: wait until its transmit count
# stops moving (and the UART's FIFO has had time to empty), or the last lines are lost.
last=
while now=$(grep -o 'tx:[0-9]*' /proc/tty/driver/serial 2>/dev/null | head -n 1) && [ "$now" != "$last" ]; do
	last=$now
	usleep 20000
done
poweroff -f
EOF
chmod 0755 "$root/init"

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -mindepth 1 | "$bb" cpio -o -H newc 2>/dev/null) |
	gzip -9 > "$out.tmp"
mv "$out.tmp" "$out"
