# The Linux driver's tests, run by the initramfs's /init as /test.sh (scripts/mkinitrd.sh,
# with /hvmetal.ko, /hvltest, /vmm, /mbvmm and its kernels): insmod, hvltest's TAP
# (which runs /vmm), mbvmm's two test kernels, then what the kernel said.
# tests/linux/hvl-check.sh reads it all off the serial port.
# The console keeps kernel messages below KERN_EMERG to itself while the tests print,
# so that they do not land inside a TAP line; they are shown afterwards.
echo "hvl: cpus online $(grep -c '^processor' /proc/cpuinfo)"
dmesg -n 1
boot_lines=$(dmesg | wc -l)
if insmod /hvmetal.ko; then
	echo "hvl: insmod hvmetal.ko: ok"
else
	echo "hvl: insmod hvmetal.ko: failed"
fi
dmesg | grep -i 'hvmetal' | sed 's/^/hvl: dmesg: /'
/hvltest /vmm
rc=$?
echo "hvl: hvltest exited $rc"
# The Multiboot VMM as a Linux program, its vCPUs on threads: the test kernels of
# tests/mbvmm, as make test boots them under the UEFI one (QEMU's status: 1 passed).
/mbvmm -m 128 -initrd /mbtest.env -append smoke=1 /mbtest.elf
echo "hvl: mbvmm mbtest.elf exited $?"
/mbvmm -smp 2 -cpu xapic /mbsmp.elf
echo "hvl: mbvmm mbsmp.elf exited $?"
# What the kernel said since the boot (whose warnings are the emulator's, not ours).
dmesg | tail -n +$((boot_lines + 1)) |
	grep -E 'hvmetal|rcu.*stall|BUG:|WARNING:|Oops:|Call Trace|blocked for more than' |
	sed 's/^/hvl: dmesg: /'
echo "hvl: done"
[ "$rc" = 0 ]
