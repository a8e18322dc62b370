#!/usr/bin/env bash
# Installs the Debian packages hvmetal needs to build, boot and test, if any are missing,
# and fetches the Linux control domain's kernel (below). Quick when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(gcc make nasm binutils gnu-efi mtools ovmf bochs bochs-sdl bochsbios vgabios
      qemu-system-x86 libcmocka-dev perl clang libclang-rt-14-dev busybox-static)

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: $1 and not root: run 'sudo $0'" >&2
		exit 1
	fi
}

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	apt-get update -qq
	apt_updated=1
}

missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	need_root "missing packages ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_update
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Linux control domain (README.md, "Linux as the control domain"): Debian's cloud
# kernel, unpacked into build/linux/ and never installed (installing it pulls systemd,
# udev and initramfs-tools), and its headers installed for out-of-tree modules. Image
# and headers come from one ABI, resolved once per build tree, so a module's vermagic
# matches the kernel it loads into. build/linux/linux.env records the result, both a
# shell and a make fragment: LINUX_ABI, LINUX_VMLINUZ, LINUX_HEADERS.
linux=build/linux
env=$linux/linux.env
if [ -f "$env" ]; then
	# shellcheck source=/dev/null
	. "$env"
	[ -f "$LINUX_VMLINUZ" ] && installed "linux-headers-$LINUX_ABI" && exit 0
fi

# "Depends: linux-image-6.1.0-57-cloud-amd64" -> 6.1.0-57-cloud-amd64
abi_of() {
	apt-cache depends "$1" 2>/dev/null | sed -n "s/^ *Depends: $2-\\(.*-cloud-amd64\\)\$/\\1/p" | head -n 1
}
abi=$(abi_of linux-image-cloud-amd64 linux-image)
if [ -z "$abi" ]; then
	need_root "no Debian package lists"
	apt_update
	abi=$(abi_of linux-image-cloud-amd64 linux-image)
fi
habi=$(abi_of linux-headers-cloud-amd64 linux-headers)
if [ -z "$abi" ] || [ "$abi" != "$habi" ]; then
	echo "deps: cannot resolve one kernel ABI: linux-image-cloud-amd64 -> '$abi'," \
	     "linux-headers-cloud-amd64 -> '$habi'" >&2
	exit 1
fi

if ! installed "linux-headers-$abi"; then
	echo "deps: installing linux-headers-$abi"
	need_root "missing linux-headers-$abi"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "linux-headers-$abi" >/dev/null
fi

vmlinuz=$linux/boot/vmlinuz-$abi
if [ ! -f "$vmlinuz" ]; then
	echo "deps: fetching linux-image-$abi (unpacked into $linux, not installed)"
	dl=$linux/download
	rm -rf "$dl"
	mkdir -p "$dl"
	# As root apt would hand the download to its _apt user, who cannot write here.
	(cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "linux-image-$abi")
	dpkg-deb -x "$dl"/linux-image-"$abi"_*.deb "$linux"
	rm -rf "$dl"
	[ -f "$vmlinuz" ] || { echo "deps: no $vmlinuz in linux-image-$abi" >&2; exit 1; }
fi

printf 'LINUX_ABI=%s\nLINUX_VMLINUZ=%s\nLINUX_HEADERS=%s\n' \
	"$abi" "$vmlinuz" "/usr/src/linux-headers-$abi" > "$env.tmp"
mv "$env.tmp" "$env"
echo "deps: Linux $abi: $vmlinuz, headers /usr/src/linux-headers-$abi"
