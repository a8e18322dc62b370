#!/usr/bin/env bash
# Installs the Debian packages hvmetal needs to build, boot and test, if any are missing.
set -euo pipefail
pkgs=(gcc make nasm binutils gnu-efi mtools ovmf bochs bochs-sdl bochsbios vgabios
      qemu-system-x86 libcmocka-dev perl clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages and not root: run 'sudo apt-get install ${missing[*]}'" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
