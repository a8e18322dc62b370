/* MSR accesses that turn a #GP in VMX root into an error (msr_safe.asm). */
#ifndef HVMETAL_MSR_SAFE_H
#define HVMETAL_MSR_SAFE_H

#include <stdbool.h>
#include <stdint.h>

/* 0, or -1 when the CPU refused the access with #GP (nothing changed). */
int msr_safe_read(uint32_t msr, uint64_t *val);
int msr_safe_write(uint32_t msr, uint64_t val);

/* From host_exception: where a #GP at rip resumes, or 0 when it is not an MSR access here. */
uint64_t msr_safe_fixup(uint64_t rip);

#endif
