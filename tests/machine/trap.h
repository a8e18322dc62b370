/*
 * Runs a function with #UD, #GP and #PF caught, so the suite can check that an
 * instruction faults (VMXON must #UD in the control domain) without dying.
 */
#ifndef HVTEST_TRAP_H
#define HVTEST_TRAP_H

#include <stdint.h>

#define TRAP_NONE	(-1)

/* Installs the catching IDT on this CPU (a copy of the firmware's). */
void trap_install(void);
void trap_remove(void);
/* NMIs this CPU took while the catching IDT was installed. */
extern volatile uint64_t trap_nmi_count;

/* fn(arg); returns TRAP_NONE, or the vector of the exception it raised. */
int trap_call(void (*fn)(void *), void *arg);

#endif
