/*
 * The driver's own rules, through raw calls: who may open the device, which calls
 * pass, whose VMs and vCPUs a call may name, guest memory pinned exactly while it is
 * mapped, and nothing left behind when a file goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hvlt.h"

#define PAGE		4096ull
#define RWX		(HV_MEMORY_READ | HV_MEMORY_WRITE | HV_MEMORY_EXEC)
#define KERNEL_PTR	0xffffffff81000000ull	/* the kernel's text: never a process's */

void test_absent(int err)
{
	hv_return_t r;

	ok(err == ENODEV, "open %s: %s (hvmetal absent: the driver answers ENODEV)",
	   HVMETAL_DEV_PATH, strerror(err));
	r = hv_vm_create(HV_VM_DEFAULT);
	ok(r == HV_NO_DEVICE, "without hvmetal, libhv's hv_vm_create is HV_NO_DEVICE (0x%x %s)",
	   (unsigned)r, hv_name(r));
}

/* (a) The device node is root's alone; a process of user 1000 gets EACCES, libhv HV_DENIED. */
void test_unprivileged(void)
{
	struct stat st = { 0 };
	int status = -1;
	pid_t pid;
	int err = stat(HVMETAL_DEV_PATH, &st);

	ok(!err && S_ISCHR(st.st_mode) && (st.st_mode & 07777) == 0600 &&
	   st.st_uid == 0 && st.st_gid == 0, "%s is a character device, mode 0600, root:root "
	   "(mode 0%o, uid %u)", HVMETAL_DEV_PATH, (unsigned)(st.st_mode & 07777),
	   (unsigned)st.st_uid);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(1000) || setuid(1000))
			_exit(10);
		if (open(HVMETAL_DEV_PATH, O_RDWR) >= 0)
			_exit(1);
		if (errno != EACCES)
			_exit(2);
		_exit(hv_vm_create(HV_VM_DEFAULT) == HV_DENIED ? 0 : 3);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "as user 1000 (setuid in the program): open gives EACCES, hv_vm_create HV_DENIED "
	   "(child status 0x%x: 1 opened, 2 other errno, 3 libhv's answer, 10 setuid failed)",
	   (unsigned)status);
}

struct other_thread {
	int fd;
	uint64_t vm, vcpu;
	hv_return_t read, destroy, interrupt;
};

static void *other_thread(void *arg)
{
	struct other_thread *t = arg;

	t->read = dev_call3(t->fd, HVMETAL_HC_VCPU_READ_REG, t->vm, t->vcpu, HV_X86_RBX, NULL);
	t->destroy = dev_call3(t->fd, HVMETAL_HC_VCPU_DESTROY, t->vm, t->vcpu, 0, NULL);
	t->interrupt = dev_call3(t->fd, HVMETAL_HC_VCPU_INTERRUPT, t->vm, t->vcpu, 0, NULL);
	return NULL;
}

void test_driver(void)
{
	int a = dev_open(), b = dev_open();
	struct other_thread t = { .fd = a };
	struct hvmetal_vm_stats vs;
	struct hvmetal_info *info;
	uint64_t v = 0, vm = 0, vcpu = 0;
	pthread_t thread;
	hv_return_t r;
	void *page;

	if (a < 0 || b < 0) {
		ok(false, "open %s twice: %s", HVMETAL_DEV_PATH, strerror(errno));
		return;
	}
	r = dev_call3(a, HVMETAL_HC_VERSION, 0, 0, 0, &v);
	ok(r == HV_SUCCESS && v == HVMETAL_ABI_VERSION, "VERSION through the driver: ABI %llu (0x%x)",
	   (unsigned long long)v, (unsigned)r);

	/* hvmetal does not fault pages in: the driver does, for the call's buffer. */
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	info = page;
	r = dev_call3(a, HVMETAL_HC_INFO, (uintptr_t)page, sizeof(*info), 0, NULL);
	ok(r == HV_SUCCESS && info->abi_version == HVMETAL_ABI_VERSION && info->pool_total,
	   "INFO into a page the process never touched: 0x%x, %u CPUs, pool %llu KiB",
	   (unsigned)r, info->cpu_count, (unsigned long long)info->pool_total >> 10);
	mprotect(page, PAGE, PROT_READ);
	r = dev_call3(a, HVMETAL_HC_INFO, (uintptr_t)page, sizeof(*info), 0, NULL);
	ok(r == HV_BAD_ARGUMENT, "INFO into a read-only page: HV_BAD_ARGUMENT (0x%x)", (unsigned)r);
	munmap(page, PAGE);
	r = dev_call3(a, HVMETAL_HC_INFO, KERNEL_PTR, sizeof(*info), 0, NULL);
	ok(r == HV_BAD_ARGUMENT, "INFO into kernel memory: HV_BAD_ARGUMENT (0x%x)", (unsigned)r);

	r = dev_call3(a, HVMETAL_HC_VCPU_ADOPT, 0, 0, 0, NULL);
	ok(r == HV_UNSUPPORTED, "VCPU_ADOPT is the driver's own: HV_UNSUPPORTED (0x%x)", (unsigned)r);
	r = dev_call3(a, HVMETAL_HC_COUNT, 0, 0, 0, NULL);
	ok(r == HV_UNSUPPORTED, "a call number past the table: HV_UNSUPPORTED (0x%x)", (unsigned)r);
	r = dev_call3(a, HVMETAL_HC_VERSION | HVMETAL_HC_USER, 0, 0, 0, NULL);
	ok(r == HV_UNSUPPORTED, "a call number with HVMETAL_HC_USER (the driver's flag): "
	   "HV_UNSUPPORTED (0x%x)", (unsigned)r);
	ok(ioctl(a, _IO(HVMETAL_IOC_MAGIC, 9)) < 0 && errno == ENOTTY, "an unknown ioctl: ENOTTY");

	r = dev_call3(a, HVMETAL_HC_VM_CREATE, HV_VM_DEFAULT, 0, 0, &vm);
	ok(r == HV_SUCCESS, "VM_CREATE: 0x%x, handle 0x%llx", (unsigned)r, (unsigned long long)vm);
	r = dev_call3(b, HVMETAL_HC_VM_STATS, vm, (uintptr_t)&vs, 0, NULL);
	ok(r == HV_BAD_ARGUMENT, "VM_STATS on another open file's VM: HV_BAD_ARGUMENT (0x%x)",
	   (unsigned)r);
	r = dev_call3(b, HVMETAL_HC_VM_DESTROY, vm, 0, 0, NULL);
	ok(r == HV_BAD_ARGUMENT, "VM_DESTROY of another open file's VM: HV_BAD_ARGUMENT (0x%x)",
	   (unsigned)r);
	r = dev_call3(a, HVMETAL_HC_VM_STATS, vm, (uintptr_t)&vs, 0, NULL);
	ok(r == HV_SUCCESS && vs.spaces == 1, "VM_STATS on its own VM: 0x%x, %llu space",
	   (unsigned)r, (unsigned long long)vs.spaces);

	r = dev_call3(a, HVMETAL_HC_VCPU_CREATE, vm, HV_VCPU_DEFAULT, 0, &vcpu);
	ok(r == HV_SUCCESS, "VCPU_CREATE: 0x%x, id %llu", (unsigned)r, (unsigned long long)vcpu);
	t.vm = vm;
	t.vcpu = vcpu;
	pthread_create(&thread, NULL, other_thread, &t);
	pthread_join(thread, NULL);
	ok(t.read == HV_DENIED && t.destroy == HV_DENIED,
	   "another thread's READ_REG and VCPU_DESTROY: HV_DENIED (0x%x, 0x%x)",
	   (unsigned)t.read, (unsigned)t.destroy);
	ok(t.interrupt == HV_SUCCESS, "another thread's VCPU_INTERRUPT: HV_SUCCESS (0x%x)",
	   (unsigned)t.interrupt);
	r = dev_call3(a, HVMETAL_HC_VCPU_READ_REG, vm, vcpu, HV_X86_RBX, NULL);
	ok(r == HV_SUCCESS, "the creating thread's READ_REG: HV_SUCCESS (0x%x)", (unsigned)r);
	r = dev_call3(a, HVMETAL_HC_VCPU_READ_REG, vm, (vcpu + 1) % 64, HV_X86_RBX, NULL);
	ok(r == HV_BAD_ARGUMENT, "READ_REG on a vCPU that does not exist: HV_BAD_ARGUMENT (0x%x)",
	   (unsigned)r);
	r = dev_call3(a, HVMETAL_HC_VM_DESTROY, vm, 0, 0, NULL);
	ok(r == HV_BUSY, "VM_DESTROY while it has a vCPU: HV_BUSY (0x%x)", (unsigned)r);
	r = dev_call3(a, HVMETAL_HC_VCPU_DESTROY, vm, vcpu, 0, NULL);
	ok(r == HV_SUCCESS, "VCPU_DESTROY by its thread: 0x%x", (unsigned)r);
	r = dev_call3(a, HVMETAL_HC_VM_DESTROY, vm, 0, 0, NULL);
	ok(r == HV_SUCCESS, "VM_DESTROY: 0x%x", (unsigned)r);
	r = dev_call3(a, HVMETAL_HC_VM_STATS, vm, (uintptr_t)&vs, 0, NULL);
	ok(r == HV_BAD_ARGUMENT, "a destroyed VM: HV_BAD_ARGUMENT (0x%x)", (unsigned)r);
	close(a);
	close(b);
}

static hv_return_t map(int fd, uint64_t vm, uint64_t asid, const void *uva, uint64_t gpa,
		       uint64_t size, uint64_t flags)
{
	struct hvmetal_dev_call c = {
		.nr = HVMETAL_HC_VM_MAP, .arg = { vm, asid, (uintptr_t)uva, gpa, size, flags },
	};

	return dev_call(fd, &c);
}

static hv_return_t call5(int fd, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
			 uint64_t a3, uint64_t a4)
{
	struct hvmetal_dev_call c = { .nr = nr, .arg = { a0, a1, a2, a3, a4 } };

	return dev_call(fd, &c);
}

static uint64_t pinned(void)
{
	struct hvmetal_dev_stats s;

	return dev_stats(&s) ? s.pinned_pages : ~0ull;
}

/* Pinned pages follow the mappings page for page. */
void test_memory(void)
{
	int fd = dev_open();
	uint8_t *rw = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	uint8_t *ro = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hvmetal_dev_stats base, s;
	struct hvmetal_translation tr;
	uint64_t vm = 0, asid = 0, p0;
	hv_return_t r;

	munmap(gone, PAGE);
	if (fd < 0 || !dev_stats(&base) ||
	    dev_call3(fd, HVMETAL_HC_VM_CREATE, HV_VM_DEFAULT, 0, 0, &vm) != HV_SUCCESS) {
		ok(false, "a VM for the memory tests");
		return;
	}
	p0 = base.pinned_pages;
	r = map(fd, vm, 0, rw, 0x100000, 16 * PAGE, RWX);
	ok(r == HV_SUCCESS && pinned() == p0 + 16, "VM_MAP of 16 untouched pages: 0x%x, %llu pinned",
	   (unsigned)r, (unsigned long long)(pinned() - p0));
	r = call5(fd, HVMETAL_HC_VM_TRANSLATE, vm, 0, 0x100000, (uintptr_t)&tr, 0);
	ok(r == HV_SUCCESS && tr.hpa && !(tr.hpa & (PAGE - 1)) && tr.flags == RWX,
	   "VM_TRANSLATE: 0x%x, a page of RAM, flags 0x%llx", (unsigned)r,
	   (unsigned long long)tr.flags);
	r = map(fd, vm, 0, rw, 0x10f000, PAGE, RWX);
	ok(r == HV_BAD_ARGUMENT && pinned() == p0 + 16,
	   "VM_MAP over a mapped page: HV_BAD_ARGUMENT (0x%x), nothing pinned", (unsigned)r);
	r = call5(fd, HVMETAL_HC_VM_UNMAP, vm, 0, 0x104000, 4 * PAGE, 0);
	ok(r == HV_SUCCESS && pinned() == p0 + 12,
	   "VM_UNMAP of 4 pages in the middle: 0x%x, exactly those unpinned (%llu left)",
	   (unsigned)r, (unsigned long long)(pinned() - p0));
	r = call5(fd, HVMETAL_HC_VM_UNMAP, vm, 0, 0x100000, 0x100000, 0);
	ok(r == HV_SUCCESS && pinned() == p0,
	   "VM_UNMAP of a megabyte around the rest (holes skipped): 0x%x, %llu left",
	   (unsigned)r, (unsigned long long)(pinned() - p0));

	r = map(fd, vm, 0, ro, 0x200000, 4 * PAGE, HV_MEMORY_READ | HV_MEMORY_WRITE);
	ok(r == HV_BAD_ARGUMENT && pinned() == p0,
	   "VM_MAP with WRITE of read-only memory: HV_BAD_ARGUMENT (0x%x), nothing pinned",
	   (unsigned)r);
	r = map(fd, vm, 0, ro, 0x200000, 4 * PAGE, HV_MEMORY_READ);
	ok(r == HV_SUCCESS && pinned() == p0 + 4, "VM_MAP read-only of read-only memory: 0x%x",
	   (unsigned)r);
	r = call5(fd, HVMETAL_HC_VM_PROTECT, vm, 0, 0x200000, 4 * PAGE,
		  HV_MEMORY_READ | HV_MEMORY_WRITE);
	ok(r == HV_BAD_ARGUMENT, "VM_PROTECT adding WRITE to read-only memory: HV_BAD_ARGUMENT "
	   "(0x%x)", (unsigned)r);
	r = map(fd, vm, 0, rw, 0x300000, 4 * PAGE, HV_MEMORY_READ);
	ok(r == HV_SUCCESS, "VM_MAP read-only of writable memory: 0x%x", (unsigned)r);
	r = call5(fd, HVMETAL_HC_VM_PROTECT, vm, 0, 0x300000, 4 * PAGE, RWX);
	ok(r == HV_SUCCESS, "VM_PROTECT adding WRITE to writable memory: 0x%x", (unsigned)r);
	r = map(fd, vm, 0, gone, 0x400000, PAGE, RWX);
	ok(r == HV_BAD_ARGUMENT && pinned() == p0 + 8,
	   "VM_MAP of an address with nothing behind it: HV_BAD_ARGUMENT (0x%x)", (unsigned)r);
	r = map(fd, vm, 0, (void *)(uintptr_t)KERNEL_PTR, 0x400000, PAGE, RWX);
	ok(r == HV_BAD_ARGUMENT && pinned() == p0 + 8,
	   "VM_MAP of kernel memory: HV_BAD_ARGUMENT (0x%x)", (unsigned)r);

	r = dev_call3(fd, HVMETAL_HC_VM_SPACE_CREATE, vm, 0, 0, &asid);
	ok(r == HV_SUCCESS && asid, "VM_SPACE_CREATE: 0x%x, asid %llu", (unsigned)r,
	   (unsigned long long)asid);
	r = map(fd, vm, asid, rw, 0, 16 * PAGE, RWX);
	ok(r == HV_SUCCESS && pinned() == p0 + 24, "VM_MAP into it: 0x%x, %llu pinned", (unsigned)r,
	   (unsigned long long)(pinned() - p0));
	r = dev_call3(fd, HVMETAL_HC_VM_SPACE_DESTROY, vm, asid, 0, NULL);
	ok(r == HV_SUCCESS && pinned() == p0 + 8,
	   "VM_SPACE_DESTROY unpins the space's pages, no other: 0x%x, %llu left", (unsigned)r,
	   (unsigned long long)(pinned() - p0));
	r = dev_call3(fd, HVMETAL_HC_VM_DESTROY, vm, 0, 0, NULL);
	memset(&s, 0xff, sizeof(s));
	dev_stats(&s);
	ok(r == HV_SUCCESS && s.pinned_pages == p0 &&
	   s.info.pool_free == base.info.pool_free,
	   "VM_DESTROY unpins the rest: 0x%x, %llu left; pool_free %llu (baseline %llu)",
	   (unsigned)r, (unsigned long long)(s.pinned_pages - p0),
	   (unsigned long long)s.info.pool_free, (unsigned long long)base.info.pool_free);
	close(fd);
	munmap(rw, 16 * PAGE);
	munmap(ro, 4 * PAGE);
}

static void *exiting_owner(void *arg)
{
	hv_vcpuid_t *vcpu = arg;

	return (void *)(uintptr_t)hv_vcpu_create(vcpu, HV_VCPU_DEFAULT);
}

/*
 * A VMM that exits without cleaning up (a VM, memory, a vCPU that ran, one whose
 * thread is gone; on another CPU than the one it exits on, with 2 CPUs): its file's
 * release leaves nothing.
 */
void test_release(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct hvmetal_dev_stats base, s;
	int status = -1;
	pid_t pid;

	if (!dev_stats(&base)) {
		ok(false, "stats before the release test");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		hv_vcpuid_t other = 0;
		struct guest g;
		pthread_t thread;
		void *res = NULL;
		uint64_t rbx = 0;

		pin_to(0, 0);
		if (hv_vm_create(HV_VM_DEFAULT) != HV_SUCCESS || !guest_setup(&g, guest_count,
									 guest_count_len))
			_exit(1);
		if (!guest_run_to_out(&g, &rbx) || rbx != 1)
			_exit(2);
		pthread_create(&thread, NULL, exiting_owner, &other);
		pthread_join(thread, &res);
		if (res)
			_exit(3);
		if (cpus > 1)
			pin_to(0, 1);
		_exit(0);	/* no destroy, no unmap: the driver's release does it all */
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "a VMM child ran its guest, made a vCPU on a thread that ended, and exited "
	   "without cleaning up (status 0x%x)", (unsigned)status);
	memset(&s, 0xff, sizeof(s));
	dev_stats(&s);
	ok(s.vms == base.vms && s.vcpus == base.vcpus &&
	   s.pinned_pages == base.pinned_pages && s.info.pool_free == base.info.pool_free,
	   "its release left nothing: %llu VMs, %llu vCPUs, %llu pinned pages, pool_free %llu "
	   "(baseline %llu)", (unsigned long long)s.vms, (unsigned long long)s.vcpus,
	   (unsigned long long)s.pinned_pages, (unsigned long long)s.info.pool_free,
	   (unsigned long long)base.info.pool_free);
}
