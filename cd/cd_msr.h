/*
 * The control domain's RDMSR and WRMSR exits. Its MSRs are its own and run
 * natively, except the ones below, which the MSR bitmap sends here: those
 * outside the bitmap's two ranges (the CPU always exits on them), and those
 * hvmetal must keep for itself. An access performed on the caller's behalf
 * runs in VMX root with a fault fixup, so a #GP the CPU raises becomes the
 * caller's #GP, exactly as on the bare CPU.
 */
#ifndef HVMETAL_CD_MSR_H
#define HVMETAL_CD_MSR_H

#include <stdint.h>
#include "vmx/vmx_exit.h"

/* Sets the bitmap's exit bits (4 KiB, zero otherwise) for every MSR hvmetal keeps. */
void cd_msr_bitmap_init(uint8_t *bitmap);

enum exit_action cd_exit_rdmsr(struct vmx_exit *ex);
enum exit_action cd_exit_wrmsr(struct vmx_exit *ex);

#endif
