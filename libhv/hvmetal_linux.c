/*
 * libhv's transport on Linux: each hypercall is one HVMETAL_IOC_CALL ioctl on
 * /dev/hvmetal (linux/, docs/linux.md), which checks it, makes the VMCALL on the
 * right CPU and runs a vCPU until an exit the VMM must see.
 *
 * The device is opened once per process, at its first call, close-on-exec: the
 * open file is Apple's "task", and the VMs it creates die with the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <hvmetal/hvmetal.h>
#include <hvmetal/hvmetal_dev.h>

static int dev_fd = -1;

/* No permission on the device node is Apple's answer to a process without the
 * hypervisor entitlement; no node, no driver or no hvmetal is no device. */
static hv_return_t open_error(int err)
{
	return err == EACCES || err == EPERM ? HV_DENIED : HV_NO_DEVICE;
}

static hv_return_t dev(int *fd)
{
	int f = __atomic_load_n(&dev_fd, __ATOMIC_ACQUIRE), none = -1;

	if (f < 0) {
		f = open(HVMETAL_DEV_PATH, O_RDWR | O_CLOEXEC);
		if (f < 0)
			return open_error(errno);
		/* Two threads' first calls at once: one open file wins, the other goes. */
		if (!__atomic_compare_exchange_n(&dev_fd, &none, f, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE)) {
			close(f);
			f = none;
		}
	}
	*fd = f;
	return HV_SUCCESS;
}

/* One call; c->rax and the result registers filled in. */
static hv_return_t call(struct hvmetal_dev_call *c)
{
	hv_return_t r;
	int fd;

	r = dev(&fd);
	if (r != HV_SUCCESS)
		return r;
	if (ioctl(fd, HVMETAL_IOC_CALL, c) < 0)
		return HV_ERROR;
	return (hv_return_t)c->rax;
}

hv_return_t hvmetal_vmcall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *rdx)
{
	struct hvmetal_dev_call c = { .nr = nr, .arg = { a0, a1, a2 } };
	hv_return_t r = call(&c);

	if (rdx)
		*rdx = c.rdx;
	return r;
}

hv_return_t hvmetal_vmcall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
			    uint64_t a3, uint64_t a4, uint64_t a5)
{
	struct hvmetal_dev_call c = { .nr = nr, .arg = { a0, a1, a2, a3, a4, a5 } };

	return call(&c);
}

hv_return_t hvmetal_vmcall_rdx_rcx(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
				   uint64_t a3, uint64_t *rdx, uint64_t *rcx)
{
	struct hvmetal_dev_call c = { .nr = nr, .arg = { a0, a1, a2, a3 } };
	hv_return_t r = call(&c);

	*rdx = c.rdx;
	*rcx = c.rcx;
	return r;
}

/* The driver runs again after HVMETAL_RUN_AGAIN itself: this returns an exit or an error. */
hv_return_t hvmetal_vcpu_run(uint64_t vm, uint64_t vcpu, uint64_t deadline, uint64_t mode,
			     uint64_t rip, struct hvmetal_run_exit *ex)
{
	struct hvmetal_dev_call c = {
		.nr = HVMETAL_HC_VCPU_RUN, .arg = { vm, vcpu, deadline, mode, 0, rip },
	};
	hv_return_t r = call(&c);

	ex->reason = c.rdx;
	ex->qualification = c.rsi;
	ex->insn_len = c.rdi;
	ex->rip = c.r8;
	ex->exitinfo = c.r9;
	ex->apic_value = c.rcx;
	return r;
}
