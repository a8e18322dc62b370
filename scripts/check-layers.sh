#!/usr/bin/env bash
# The core's folders are layers, lowest first; a file may include its own folder's
# headers and those of lower layers, never a higher one's (so no include cycle
# between folders can exist), nor call a function a higher one defines (checked
# on the objects given as arguments). Run by `make all`; prints each violation.
set -uo pipefail
cd "$(dirname "$0")/.."
layers=(kernel apic ept vmx vm hypercall cd boot)
rank() {
	local i
	for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done
	echo -1
}
bad=0
for dir in "${layers[@]}"; do
	r=$(rank "$dir")
	for f in "$dir"/*.c "$dir"/*.h "$dir"/*.asm "$dir"/*.inc; do
		[ -f "$f" ] || continue
		while IFS= read -r inc; do
			# Same-folder includes name the file alone; others name folder/file.
			case "$inc" in */*) to=${inc%%/*} ;; *) to=$dir ;; esac
			t=$(rank "$to")
			[ "$t" -ge 0 ] || continue	# include/ (public headers) and the like
			if [ "$t" -gt "$r" ]; then
				echo "layers: $f includes $inc ($to is above $dir)"
				bad=1
			fi
		done < <(sed -n 's/^[#%][[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	done
done
# Calls: every symbol an object needs, against the folder of the object defining
# it; the objects are hvmetal's, given by the Makefile (build/efi/FOLDER/...).
objs=("$@")
if [ ${#objs[@]} -gt 0 ]; then
	declare -A home
	for o in "${objs[@]}"; do
		d=${o#build/efi/}; d=${d%%/*}
		while read -r sym; do home[$sym]=$d; done < <(nm --defined-only -g "$o" | awk '{print $3}')
	done
	for o in "${objs[@]}"; do
		d=${o#build/efi/}; d=${d%%/*}
		r=$(rank "$d")
		while read -r sym; do
			to=${home[$sym]:-}
			[ -n "$to" ] || continue
			if [ "$(rank "$to")" -gt "$r" ]; then
				echo "layers: $o calls $sym ($to is above $d)"
				bad=1
			fi
		done < <(nm --undefined-only "$o" | awk '{print $2}')
	done
fi
exit $bad
