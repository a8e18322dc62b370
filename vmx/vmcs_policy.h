/*
 * What the control domain's VMM may do with a guest vCPU's VMCS: which fields it
 * may read and write, which control bits hvmetal forces on or keeps for itself,
 * and what hv_vmx_read_capability() reports. Pure logic over the raw VMX MSRs,
 * decided once at boot; no VMX instructions here.
 */
#ifndef HVMETAL_VMCS_POLICY_H
#define HVMETAL_VMCS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmx_caps.h"

/* Set once by vmcs_policy_init, read-only afterwards. */
struct vmcs_policy {
	/* What clients may set: must1 = forced on (by the CPU or by hvmetal), may1 = allowed. */
	struct vmx_ctl pin, proc, proc2, entry, exit;
	/* For guests (unrestricted guest: CR0.PE and CR0.PG are free). */
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t cr4_mask_forced;	/* CR4 bits a guest's own MOV to CR4 may not change */
	/* Raw, as reported by IA32_VMX_BASIC, _MISC, _VMCS_ENUM, _EPT_VPID_CAP. */
	uint64_t basic, misc, vmcs_enum, ept_vpid;
	/* VMX-preemption timer frequency: tsc_hz >> (misc & 31). */
	uint64_t timer_hz;
};

/* Encoding bits 11:10. */
enum vmcs_type {
	VMCS_TYPE_CONTROL = 0,
	VMCS_TYPE_EXIT_INFO = 1,	/* read-only VM-exit information */
	VMCS_TYPE_GUEST = 2,
	VMCS_TYPE_HOST = 3,
};

/* Encoding bits 14:13. */
enum vmcs_width {
	VMCS_WIDTH_16 = 0,
	VMCS_WIDTH_64 = 1,
	VMCS_WIDTH_32 = 2,
	VMCS_WIDTH_NATURAL = 3,		/* 64 bits: hvmetal runs only on 64-bit hosts */
};

/* What a client may do with one field. */
enum vmcs_access {
	VMCS_ACCESS_NONE,	/* hvmetal's own, or host state: neither read nor written */
	VMCS_ACCESS_READ,	/* read-only */
	VMCS_ACCESS_ZERO,	/* readable; written only as 0 */
	VMCS_ACCESS_FREE,	/* any value of the field's width: VM entry judges it */
	VMCS_ACCESS_PIN,	/* control words: within the policy's must1/may1 */
	VMCS_ACCESS_PROC,
	VMCS_ACCESS_PROC2,
	VMCS_ACCESS_ENTRY,
	VMCS_ACCESS_EXIT,
	VMCS_ACCESS_CR0,	/* guest CR0/CR4: within the policy's fixed bits */
	VMCS_ACCESS_CR4,
	VMCS_ACCESS_ACTIVITY,	/* active, or HLT where the CPU has it: states a kick ends */
	VMCS_ACCESS_CR4_MASK,	/* any value; hvmetal's forced bits added */
};

/* One row of the field table: a full-field encoding, its SDM group, its access. */
struct vmcs_field {
	uint16_t encoding;
	uint8_t width;		/* enum vmcs_width, as the SDM groups the field */
	uint8_t type;		/* enum vmcs_type, likewise */
	uint8_t access;		/* enum vmcs_access */
};

/* Derives the policy from the raw MSRs and the caps vmx_caps_check accepted. */
void vmcs_policy_init(struct vmcs_policy *p, const struct vmx_caps *caps, uint64_t basic,
		      uint64_t misc, uint64_t vmcs_enum, uint64_t tsc_hz);

/* hv_vmx_read_capability(cap): 0 and *value, or -1 for an unknown cap. */
int vmcs_policy_capability(const struct vmcs_policy *p, uint32_t cap, uint64_t *value);

/* May the client read this field (hv_vmx_vcpu_read_vmcs)? False for unknown encodings. */
bool vmcs_policy_readable(uint32_t field);

/*
 * hv_vmx_vcpu_get_cap_write_vmcs: 0 with allowed_0 (bits that must be 1) and
 * allowed_1 (bits that may be 1); -1 when the field cannot be written at all.
 */
int vmcs_policy_write_caps(const struct vmcs_policy *p, uint32_t field, uint64_t *allowed_0,
			   uint64_t *allowed_1);

/*
 * hv_vmx_vcpu_write_vmcs: 0 and *out = the value to put in the VMCS (hvmetal's
 * forced control bits OR-ed in), or -1 with *out untouched: the field is not
 * writable, or the value has a bit allowed_1 forbids or lacks one allowed_0 demands
 * (CR0/CR4; control words get their forced bits instead).
 */
int vmcs_policy_write(const struct vmcs_policy *p, uint32_t field, uint64_t value,
		      uint64_t *out);

/* The field table, sorted by encoding (for tests and diagnostics). */
const struct vmcs_field *vmcs_policy_fields(size_t *count);

#endif
