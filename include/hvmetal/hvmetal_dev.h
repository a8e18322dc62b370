/*
 * /dev/hvmetal: the Linux driver's interface (linux/, docs/linux.md). Shared by the
 * driver and libhv's Linux transport (libhv/hvmetal_linux.c); plain uapi types only.
 *
 * HVMETAL_IOC_CALL carries one hypercall of docs/abi.md: nr and RDI..R9 in, RAX and
 * the registers hvmetal answers in out. The driver checks it first (an allowlist of
 * call numbers, VMs of this open file only, vCPU calls from the vCPU's thread only),
 * keeps guest memory pinned while mapped, and moves a vCPU after its thread (VCPU_ADOPT).
 * A call the driver refuses comes back as an hv_return_t in rax, like hvmetal's own
 * refusals; the ioctl itself fails only when the struct cannot be read or written
 * (EFAULT) or the number is not one of these (ENOTTY).
 */
#ifndef HVMETAL_DEV_H
#define HVMETAL_DEV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HVMETAL_DEV_PATH	"/dev/hvmetal"

struct hvmetal_dev_call {
	__u64 nr;		/* in: HVMETAL_HC_* (no flags: the driver adds HVMETAL_HC_USER) */
	__u64 arg[6];		/* in: RDI, RSI, RDX, RCX, R8, R9 */
	__u64 rax;		/* out: hv_return_t (never HVMETAL_RUN_AGAIN: the driver runs again) */
	__u64 rdx, rcx;		/* out: the scalar results (abi.h) */
	__u64 rsi, rdi, r8;	/* out: VCPU_RUN's qualification, instruction length, RIP */
	__u64 r9;		/* out: VCPU_RUN's hv_vm_exitinfo_t (RCX: the APIC value with it) */
};

/* What the driver holds and hvmetal's INFO, for tests and monitoring. */
struct hvmetal_dev_stats {
	__u64 pinned_pages;	/* guest pages pinned by every open file together */
	__u64 vms;		/* VMs of every open file */
	__u64 vcpus;		/* their vCPUs */
	__u64 running;		/* vCPUs inside a VCPU_RUN ioctl now */
	__u64 adopts;		/* VCPU_ADOPTs done (a vCPU followed its thread to another CPU) */
	__u64 run_again;	/* HVMETAL_RUN_AGAINs the driver ran again after */
	__u64 info_result;	/* hv_return_t of the INFO below */
	__u64 reserved;
	struct {		/* struct hvmetal_info (abi.h), ABI version 1 */
		__u32 abi_version, cpu_count, features, reserved;
		__u64 region_base, region_size, pool_total, pool_free;
	} info;
};

#define HVMETAL_IOC_MAGIC	0xb7
#define HVMETAL_IOC_CALL	_IOWR(HVMETAL_IOC_MAGIC, 0, struct hvmetal_dev_call)
#define HVMETAL_IOC_STATS	_IOR(HVMETAL_IOC_MAGIC, 1, struct hvmetal_dev_stats)

#endif
