/* libhv on the host over a fake transport: what each hv_* call asks hvmetal for. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <Hypervisor/hv.h>
#include <hvmetal/hvmetal.h>

/* The last call the fake transport saw, and what it answers. */
static struct {
	unsigned calls;
	uint64_t nr, arg[6];
	hv_return_t ret;
	uint64_t rdx;
} fake;

hv_return_t hvmetal_vmcall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
			    uint64_t a3, uint64_t a4, uint64_t a5)
{
	fake.calls++;
	fake.nr = nr;
	fake.arg[0] = a0, fake.arg[1] = a1, fake.arg[2] = a2;
	fake.arg[3] = a3, fake.arg[4] = a4, fake.arg[5] = a5;
	return fake.ret;
}

hv_return_t hvmetal_vmcall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *rdx)
{
	hv_return_t r = hvmetal_vmcall6(nr, a0, a1, a2, 0, 0, 0);

	if (rdx)
		*rdx = fake.rdx;
	return r;
}

hv_return_t hvmetal_vmcall_rdx_rcx(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
				   uint64_t *rdx, uint64_t *rcx)
{
	hv_return_t r = hvmetal_vmcall6(nr, a0, a1, a2, 0, 0, 0);

	*rdx = fake.rdx;
	*rcx = ~fake.rdx;
	return r;
}

/* VCPU_RUN answers HVMETAL_RUN_AGAIN 'again' times, then fake.ret with this exit. */
static unsigned again;
static struct hvmetal_run_exit run_exit;

hv_return_t hvmetal_vcpu_run(uint64_t vm, uint64_t vcpu, uint64_t deadline, uint64_t mode,
			     uint64_t rip, struct hvmetal_run_exit *ex)
{
	hvmetal_vmcall6(HVMETAL_HC_VCPU_RUN, vm, vcpu, deadline, mode, 0, rip);
	if (again) {
		again--;
		return HVMETAL_RUN_AGAIN;
	}
	*ex = run_exit;
	return fake.ret;
}

static void answer(hv_return_t ret, uint64_t rdx)
{
	fake.calls = 0;
	fake.ret = ret;
	fake.rdx = rdx;
}

static void
test_no_vm(void **state)
{
	hv_vm_space_t asid;

	(void)state;
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vm_destroy(), HV_NO_DEVICE);
	assert_int_equal(hv_vm_map((void *)0x1000, 0, 4096, HV_MEMORY_READ), HV_NO_DEVICE);
	assert_int_equal(hv_vm_unmap(0, 4096), HV_NO_DEVICE);
	assert_int_equal(hv_vm_protect(0, 4096, HV_MEMORY_READ), HV_NO_DEVICE);
	assert_int_equal(hv_vm_space_create(&asid), HV_NO_DEVICE);
	assert_int_equal(hv_vm_space_destroy(1), HV_NO_DEVICE);
	assert_int_equal(fake.calls, 0);
}

static void
test_capability(void **state)
{
	uint64_t v = 0;

	(void)state;
	answer(HV_SUCCESS, 1024);
	assert_int_equal(hv_capability(HV_CAP_ADDRSPACEMAX, &v), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_CAPABILITY);
	assert_int_equal(fake.arg[0], HV_CAP_ADDRSPACEMAX);
	assert_int_equal(v, 1024);
	answer(HV_BAD_ARGUMENT, 7);
	v = 5;
	assert_int_equal(hv_capability(9, &v), HV_BAD_ARGUMENT);
	assert_int_equal(v, 5);		/* untouched on failure */
	assert_int_equal(hv_capability(HV_CAP_VCPUMAX, NULL), HV_BAD_ARGUMENT);
}

static void
test_vm_lifecycle(void **state)
{
	hv_vm_space_t asid = 0;

	(void)state;
	answer(HV_BAD_ARGUMENT, 0);
	assert_int_equal(hv_vm_create(1ull << 20), HV_BAD_ARGUMENT);
	assert_int_equal(fake.arg[0], 1ull << 20);

	answer(HV_SUCCESS, 0x301);
	assert_int_equal(hv_vm_create(HV_VM_ACCEL_APIC), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VM_CREATE);
	assert_int_equal(fake.arg[0], HV_VM_ACCEL_APIC);
	answer(HV_SUCCESS, 0x999);
	assert_int_equal(hv_vm_create(HV_VM_DEFAULT), HV_BUSY);
	assert_int_equal(fake.calls, 0);

	/* Every memory call names the VM hvmetal returned and the right space. */
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vm_map((void *)0x7000, 0x2000, 0x3000, HV_MEMORY_READ | HV_MEMORY_EXEC), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VM_MAP);
	assert_int_equal(fake.arg[0], 0x301);
	assert_int_equal(fake.arg[1], HV_VM_SPACE_DEFAULT);
	assert_int_equal(fake.arg[2], 0x7000);
	assert_int_equal(fake.arg[3], 0x2000);
	assert_int_equal(fake.arg[4], 0x3000);
	assert_int_equal(fake.arg[5], HV_MEMORY_READ | HV_MEMORY_EXEC);
	answer(HV_SUCCESS, 17);
	assert_int_equal(hv_vm_space_create(&asid), HV_SUCCESS);
	assert_int_equal(asid, 17);
	assert_int_equal(hv_vm_space_create(NULL), HV_BAD_ARGUMENT);
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vm_protect_space(asid, 0x4000, 0x1000, HV_MEMORY_READ), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VM_PROTECT);
	assert_int_equal(fake.arg[1], 17);
	assert_int_equal(fake.arg[2], 0x4000);
	assert_int_equal(fake.arg[3], 0x1000);
	assert_int_equal(fake.arg[4], HV_MEMORY_READ);
	assert_int_equal(hv_vm_unmap_space(asid, 0x4000, 0x1000), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VM_UNMAP);
	assert_int_equal(fake.arg[1], 17);

	/* A failed destroy keeps the VM; a successful one forgets it. */
	answer(HV_BUSY, 0);
	assert_int_equal(hv_vm_destroy(), HV_BUSY);
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vm_destroy(), HV_SUCCESS);
	assert_int_equal(fake.arg[0], 0x301);
	assert_int_equal(hv_vm_destroy(), HV_NO_DEVICE);
}

static void
test_not_yet(void **state)
{
	(void)state;
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vcpu_apic_ctrl(0, HV_APIC_CTRL_DEFAULT), HV_UNSUPPORTED);
	assert_int_equal(hv_vcpu_flush(0), HV_UNSUPPORTED);
	assert_int_equal(fake.calls, 0);
}

static void
test_vcpu_calls(void **state)
{
	hv_vcpuid_t vcpu = 99;
	uint64_t v = 0, a0 = 0, a1 = 0;

	(void)state;
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT), HV_NO_DEVICE);
	assert_int_equal(hv_vcpu_run(0), HV_NO_DEVICE);
	assert_int_equal(fake.calls, 0);
	answer(HV_SUCCESS, 0x401);
	assert_int_equal(hv_vm_create(HV_VM_DEFAULT), HV_SUCCESS);
	answer(HV_SUCCESS, 3);
	assert_int_equal(hv_vcpu_create(&vcpu, HV_VCPU_TSC_RELATIVE), HV_SUCCESS);
	assert_int_equal(vcpu, 3);
	assert_int_equal(fake.nr, HVMETAL_HC_VCPU_CREATE);
	assert_int_equal(fake.arg[0], 0x401);
	assert_int_equal(fake.arg[1], HV_VCPU_TSC_RELATIVE);

	answer(HV_SUCCESS, 0x55);
	assert_int_equal(hv_vcpu_read_register(vcpu, HV_X86_RBX, &v), HV_SUCCESS);
	assert_int_equal(v, 0x55);
	assert_int_equal(fake.nr, HVMETAL_HC_VCPU_READ_REG);
	assert_int_equal(fake.arg[1], 3);
	assert_int_equal(fake.arg[2], HV_X86_RBX);
	assert_int_equal(hv_vcpu_read_register(vcpu, HV_X86_RBX, NULL), HV_BAD_ARGUMENT);

	/* run_until goes round while hvmetal says the control domain had an interrupt. */
	answer(HV_SUCCESS, 0);
	again = 2;
	run_exit = (struct hvmetal_run_exit){ .reason = 30, .qualification = 0xe90000,
					      .insn_len = 1, .rip = 0x1005 };
	assert_int_equal(hv_vcpu_run_until(vcpu, 1234), HV_SUCCESS);
	assert_int_equal(fake.calls, 3);
	assert_int_equal(fake.arg[2], 1234);
	assert_int_equal(fake.arg[3], HVMETAL_RUN_UNTIL);
	/* The exit's fields come from libhv's copy: no call. */
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &v), HV_SUCCESS);
	assert_int_equal(v, 30);
	assert_int_equal(hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_QUALIFIC, &v), HV_SUCCESS);
	assert_int_equal(v, 0xe90000);
	assert_int_equal(hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_VMEXIT_INSTR_LEN, &v), HV_SUCCESS);
	assert_int_equal(v, 1);
	assert_int_equal(hv_vcpu_read_register(vcpu, HV_X86_RIP, &v), HV_SUCCESS);
	assert_int_equal(v, 0x1005);
	assert_int_equal(fake.calls, 0);
	/* The VMM's RIP write is held (and read back) until the next run carries it. */
	assert_int_equal(hv_vcpu_write_register(vcpu, HV_X86_RIP, 0x1006), HV_SUCCESS);
	assert_int_equal(hv_vmx_vcpu_read_vmcs(vcpu, VMCS_GUEST_RIP, &v), HV_SUCCESS);
	assert_int_equal(v, 0x1006);
	assert_int_equal(fake.calls, 0);
	/* A run refused before anything ran keeps it held; the next one sends it. */
	answer(HV_DENIED, 0);
	assert_int_equal(hv_vcpu_run(vcpu), HV_DENIED);
	assert_int_equal(fake.arg[3], HVMETAL_RUN_EVERY_EXIT | HVMETAL_RUN_SET_RIP);
	assert_int_equal(fake.arg[5], 0x1006);
	answer(HV_SUCCESS, 0);
	run_exit.rip = 0x2000;
	assert_int_equal(hv_vcpu_run(vcpu), HV_SUCCESS);
	assert_int_equal(fake.arg[3], HVMETAL_RUN_EVERY_EXIT | HVMETAL_RUN_SET_RIP);
	assert_int_equal(fake.arg[5], 0x1006);
	assert_int_equal(hv_vcpu_run(vcpu), HV_SUCCESS);
	assert_int_equal(fake.arg[3], HVMETAL_RUN_EVERY_EXIT);
	/* A failed run leaves nothing cached. */
	answer(HV_ERROR, 0x77);
	assert_int_equal(hv_vcpu_run(vcpu), HV_ERROR);
	assert_int_equal(fake.arg[3], HVMETAL_RUN_EVERY_EXIT);
	answer(HV_SUCCESS, 0x77);
	assert_int_equal(hv_vmx_vcpu_read_vmcs(vcpu, VMCS_RO_EXIT_REASON, &v), HV_SUCCESS);
	assert_int_equal(v, 0x77);
	assert_int_equal(fake.calls, 1);

	answer(HV_SUCCESS, 0xf0);
	assert_int_equal(hv_vmx_vcpu_get_cap_write_vmcs(vcpu, VMCS_CTRL_CPU_BASED2, &a0, &a1), HV_SUCCESS);
	assert_int_equal(a0, 0xf0);
	assert_int_equal(a1, ~0xf0ull);
	assert_int_equal(hv_vcpu_enable_native_msr(vcpu, 0xc0000102, true), HV_SUCCESS);
	assert_int_equal(fake.arg[2], 0xc0000102);
	assert_int_equal(fake.arg[3], HVMETAL_MSR_NATIVE);
	assert_int_equal(fake.arg[4], 1);
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vcpu_interrupt(NULL, 1), HV_BAD_ARGUMENT);
	assert_int_equal(hv_vcpu_interrupt(&vcpu, 1), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VCPU_INTERRUPT);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(hv_vm_destroy(), HV_SUCCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_vm),
		cmocka_unit_test(test_capability),
		cmocka_unit_test(test_vm_lifecycle),
		cmocka_unit_test(test_not_yet),
		cmocka_unit_test(test_vcpu_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
