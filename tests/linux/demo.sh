# `make run`'s demo, run by the initramfs's /init as /test.sh: Linux is hvmetal's
# control domain; the driver gives /dev/hvmetal and the example VMM, an ordinary
# process, runs its guests through Apple's API (libhv for Linux).
echo "demo: Linux $(uname -r) on $(grep -c '^processor' /proc/cpuinfo) CPUs under hvmetal"
dmesg -n 1
insmod /hvmetal.ko && dmesg | grep -E 'hvmetal: (ABI|absent)' | sed 's/^.*\] /demo: /'
/vmm
echo "demo: the VMM exited ($?); powering off"
