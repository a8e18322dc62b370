/* The late launch, called from boot/: once on the boot CPU, then on every CPU. */
#ifndef HVMETAL_CD_LAUNCH_H
#define HVMETAL_CD_LAUNCH_H

#include <stdint.h>
#include "kernel/bootinfo.h"

/*
 * Runs once on the boot CPU in firmware context: checks VT-x, then builds host
 * state, the control domain's EPT and every CPU's structures in the pool.
 * Returns NULL, or one line saying why hvmetal cannot run.
 */
const char *cd_setup(const struct boot_info *bi);
/*
 * On CPU cpu_index, in firmware context: VMXON, then VMLAUNCH into the control
 * domain, which resumes at guest_rip on guest_rsp with guest_rflags. Returns only
 * on failure (a negative code, logged); success continues in the guest.
 */
int cd_launch(uint32_t cpu_index, uint64_t guest_rsp, uint64_t guest_rip, uint64_t guest_rflags);
/*
 * On an AP whose cd_launch failed, in firmware context: it moves onto hvmetal's
 * own page tables, descriptor tables and stack, adds 1 to *parked once it is
 * there (and has said so), and never returns (cd_park.c).
 */
__attribute__((noreturn)) void cd_park(uint32_t cpu_index, volatile uint64_t *parked);
/*
 * In VMX root on a parked AP: it takes its INIT state, waits for a start-up IPI
 * and VMLAUNCHes into the control domain in real mode at the vector. Returns
 * only when that launch failed (a negative code, logged).
 */
struct percpu;
int cd_launch_from_init(struct percpu *cpu);

/* The control domain's EPT: its root table, and INVEPT of it on this CPU. */
uint64_t cd_ept_root(void);
void cd_ept_flush(void);

#endif
