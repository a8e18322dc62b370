/*
 * hvltest: the Linux control domain's tests of /dev/hvmetal, hvmetal.ko and libhv for
 * Linux, run as root from the test initramfs (tests/linux/hvl.sh). Prints TAP on
 * stdout (the serial console): "ok N - ...", "not ok N - ...", the plan last.
 */
#ifndef HVLT_H
#define HVLT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <Hypervisor/hv.h>
#include <hvmetal/abi.h>
#include <hvmetal/hvmetal_dev.h>

/* ---- TAP (hvlt_main.c) ---- */
void ok(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the device, without libhv (hvlt_guest.c) ---- */
int dev_open(void);				/* -1 and errno on failure */
/* One raw call on fd: rax; *c keeps every register the driver answered. */
hv_return_t dev_call(int fd, struct hvmetal_dev_call *c);
hv_return_t dev_call3(int fd, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *rdx);
/* The driver's and hvmetal's counters; false (and says why) when unreadable. */
bool dev_stats(struct hvmetal_dev_stats *s);
uint64_t monotonic_ns(void);
void sleep_ms(unsigned ms);
/* tid (0: the caller) may run on cpu only; unpin: the caller anywhere again. */
void pin_to(pid_t tid, int cpu);
void unpin(void);
/* Polls the stats until running >= n and run_again grew by again (timeout_ms: false). */
bool wait_running(uint64_t n, uint64_t again, unsigned timeout_ms);

/* ---- a real-mode test guest through libhv (hvlt_guest.c) ---- */
#define GUEST_RAM	0x10000		/* 64 KiB at guest-physical 0 */
#define GUEST_CODE	0x1000
#define GUEST_COUNT	0x2000		/* where the counting guest stores EBX */
#define GUEST_PORT	0x10

struct guest {
	hv_vcpuid_t vcpu;
	uint8_t *ram;
};

/* The spinning guest: "jmp $" forever. */
extern const uint8_t guest_spin[];
extern const size_t guest_spin_len;
/*
 * The counting guest: loop { ECX = spins; dec ECX until 0; EBX++; [GUEST_COUNT] = EBX;
 * OUT GUEST_PORT }. spins is the imm32 at guest_count_spins in its code.
 */
extern const uint8_t guest_count[];
extern const size_t guest_count_len, guest_count_spins;

/* Needs hv_vm_create done. Maps RAM, creates a vCPU on this thread, loads code at GUEST_CODE. */
bool guest_setup(struct guest *g, const uint8_t *code, size_t len);
void guest_set_spins(struct guest *g, uint32_t spins);
/* One hv_vcpu_run_until(FOREVER); true when it ended at the counting guest's OUT (RIP moved on). */
bool guest_run_to_out(struct guest *g, uint64_t *rbx);
void guest_teardown(struct guest *g);
const char *hv_name(hv_return_t r);

/* ---- the cases ---- */
void test_absent(int err);
void test_unprivileged(void);
void test_driver(void);
void test_memory(void);
void test_release(void);
void test_kill(void);
void test_sleep(void);
void test_migrate(void);
void test_apic(void);
void test_vmm(void);
extern const char *vmm_path;	/* the example VMM program: argv[1], default /vmm */

#endif
