# make bench's Linux part, run by the initramfs's /init as /test.sh (scripts/mkinitrd.sh,
# with /hvmetal_bench.ko, /hvmetal.ko and /hvlbench). scripts/bench.sh boots it under
# Bochs with 1 CPU and collects the "bench: " lines off the serial port.
echo "hvlbench: Linux $(uname -r), cpus online $(grep -c '^processor' /proc/cpuinfo)"
# hvmetal's own part: the module measures at load time and never stays loaded (its init
# fails on purpose, so insmod says "Resource temporarily unavailable"); its pr_info
# lines reach the console at the default level.
insmod /hvmetal_bench.ko 2>/dev/null
# What the system call path costs here depends on these.
grep . /sys/devices/system/cpu/vulnerabilities/* 2>/dev/null |
	sed 's|^/sys/devices/system/cpu/vulnerabilities/|hvlbench: mitigation: |'
# From here the console keeps the kernel's messages to itself: none lands inside a line.
dmesg -n 1
if insmod /hvmetal.ko; then
	/hvlbench
	echo "hvlbench: exited $?"
else
	echo "hvlbench: insmod hvmetal.ko failed: nothing measured from a process"
fi
echo "bench: done"
