# The Linux control domain's smoke test, run by the initramfs's /init
# (scripts/mkinitrd.sh): what tests/linux/run.sh looks for on the serial port.
echo "linux-cd: init reached"
echo "linux-cd: kernel $(uname -r)"
echo "linux-cd: cpus online $(grep -c '^processor' /proc/cpuinfo)"
grep -q -w hypervisor /proc/cpuinfo && h=yes || h=no
echo "linux-cd: cpuid hypervisor bit $h"
echo "linux-cd: acpi tables $(ls /sys/firmware/acpi/tables 2>/dev/null | tr '\n' ' ')"
dmesg | grep -i -E 'hvmetal|hypervisor|paravirt|smp: Brought up' | sed 's/^/linux-cd: dmesg: /'
