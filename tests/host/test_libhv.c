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
				   uint64_t a3, uint64_t *rdx, uint64_t *rcx)
{
	hv_return_t r = hvmetal_vmcall6(nr, a0, a1, a2, a3, 0, 0);

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
test_never(void **state)
{
	(void)state;
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vm_add_pio_notifier(0x60, 1, 0, 0, HV_ION_NONE), HV_UNSUPPORTED);
	assert_int_equal(hv_vcpu_flush(0), HV_UNSUPPORTED);
	assert_int_equal(fake.calls, 0);
}

/* The APIC calls: exit information from the run's copy, arguments in the ABI's registers. */
static void
test_apic_calls(void **state)
{
	hv_vcpuid_t vcpu = 0;
	hv_vm_exitinfo_t code = 0;
	uint32_t value = 0;
	bool nse = true, actv[4] = { true, true, true, true };
	uint64_t uva[3] = { 0x1000, 0x2000, 0x3000 }, rip = 0;
	uint8_t vec = 0;

	(void)state;
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vm_lapic_msi(0xfee00000, 0x41), HV_NO_DEVICE);
	assert_int_equal(fake.calls, 0);
	answer(HV_SUCCESS, 0x401);
	assert_int_equal(hv_vm_create(HV_VM_ACCEL_APIC), HV_SUCCESS);
	answer(HV_SUCCESS, 2);
	assert_int_equal(hv_vcpu_create(&vcpu, HV_VCPU_DEFAULT), HV_SUCCESS);

	/* After a run the code and the read value cost no call. */
	answer(HV_SUCCESS, 0);
	run_exit = (struct hvmetal_run_exit){ .reason = 44, .qualification = 0x30, .insn_len = 6,
					      .rip = 0x1000, .exitinfo = HV_VM_EXITINFO_APIC_ACCESS_READ,
					      .apic_value = 0x50014 };
	assert_int_equal(hv_vcpu_run_until(vcpu, HV_DEADLINE_FOREVER), HV_SUCCESS);
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vcpu_exit_info(vcpu, &code), HV_SUCCESS);
	assert_int_equal(code, HV_VM_EXITINFO_APIC_ACCESS_READ);
	assert_int_equal(hv_vcpu_exit_apic_access_read(vcpu, &value), HV_SUCCESS);
	assert_int_equal(value, 0x50014);
	assert_int_equal(fake.calls, 0);
	assert_int_equal(hv_vcpu_exit_info(vcpu, NULL), HV_BAD_ARGUMENT);

	/* A write with a side effect replaces the code; the details come from hvmetal. */
	answer(HV_SUCCESS, 0);
	assert_int_equal(hv_vcpu_apic_write(vcpu, 0x300, 0x4500, &nse), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VCPU_APIC_WRITE);
	assert_int_equal(fake.arg[1], 2);
	assert_int_equal(fake.arg[2], 0x300);
	assert_int_equal(fake.arg[3], 0x4500);
	assert_false(nse);	/* the fake answers RDX = 0: a side effect, code in RCX = ~0 */
	assert_int_equal(hv_vcpu_exit_info(vcpu, &code), HV_SUCCESS);
	assert_int_equal(code, (uint32_t)~0ull);
	assert_int_equal(hv_vcpu_exit_apic_access_read(vcpu, &value), HV_BAD_ARGUMENT);
	assert_int_equal(hv_vcpu_apic_write(vcpu, 0x300, 0, NULL), HV_BAD_ARGUMENT);
	/* The fake writes no details: code 0 is no INIT, so nothing is filled in. */
	assert_int_equal(hv_vcpu_exit_init_ap(vcpu, actv, 4), HV_BAD_ARGUMENT);
	assert_true(actv[0]);
	assert_int_equal(fake.nr, HVMETAL_HC_VCPU_EXIT_INFO);
	assert_int_equal(hv_vcpu_exit_startup_ap(vcpu, actv, 4, NULL), HV_BAD_ARGUMENT);
	assert_int_equal(hv_vcpu_exit_startup_ap(vcpu, NULL, 4, &rip), HV_BAD_ARGUMENT);
	assert_int_equal(hv_vcpu_exit_ioapic_eoi(vcpu, NULL), HV_BAD_ARGUMENT);
	assert_int_equal(hv_vcpu_exit_ioapic_eoi(vcpu, &vec), HV_BAD_ARGUMENT);

	/* The load-store cache: at most two pages, checked before any call. */
	fake.calls = 0;
	assert_int_equal(hv_vcpu_apic_lsc_enter_r32(vcpu, true, 0x1000, 6, 8, HV_X86_RAX, uva, 3),
			 HV_BAD_ARGUMENT);
	assert_int_equal(hv_vcpu_apic_lsc_enter_imm32(vcpu, 0x1000, 10, 8, 0, NULL, 1), HV_BAD_ARGUMENT);
	assert_int_equal(fake.calls, 0);
	assert_int_equal(hv_vcpu_apic_lsc_enter_imm32(vcpu, 0x1000, 10, 8, 0, uva, 2), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VCPU_APIC_LSC);
	assert_int_not_equal(fake.arg[2], 0);
	assert_int_equal(hv_vcpu_apic_lsc_invalidate(vcpu), HV_SUCCESS);
	assert_int_equal(fake.arg[2], 0);

	/* VM-wide calls: RDI = vm, then the arguments; a negative pin stays negative. */
	assert_int_equal(hv_vm_lapic_set_intr(3, 0x41, HV_APIC_LEVEL_TRIGGER), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VM_LAPIC_SET_INTR);
	assert_int_equal(fake.arg[0], 0x401);
	assert_int_equal(fake.arg[1], 3);
	assert_int_equal(fake.arg[2], 0x41);
	assert_int_equal(fake.arg[3], HV_APIC_LEVEL_TRIGGER);
	assert_int_equal(hv_vm_ioapic_pulse_irq(-1), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VM_IOAPIC_IRQ);
	assert_int_equal(fake.arg[1], UINT64_MAX);
	assert_int_equal(fake.arg[2], HVMETAL_IRQ_PULSE);
	assert_int_equal(hv_vm_atpic_port_write(0x20, 0x11), HV_SUCCESS);
	assert_int_equal(fake.nr, HVMETAL_HC_VM_ATPIC_PORT);
	assert_int_equal(fake.arg[2], HVMETAL_IO_WRITE);
	assert_int_equal(fake.arg[3], 0x11);
	assert_int_equal(hv_vm_ioapic_read(0xfec00010, NULL), HV_BAD_ARGUMENT);
	answer(HV_SUCCESS, 0x11);
	assert_int_equal(hv_vm_ioapic_read(0xfec00010, &value), HV_SUCCESS);
	assert_int_equal(value, 0x11);
	assert_int_equal(fake.arg[2], HVMETAL_IO_READ);
	assert_int_equal(hv_vm_atpic_get_state(NULL, true), HV_SUCCESS);	/* hvmetal judges the pointer */
	assert_int_equal(fake.nr, HVMETAL_HC_VM_ATPIC_GET_STATE);
	assert_int_equal(fake.arg[2], 1);
	assert_int_equal(hv_vm_destroy(), HV_SUCCESS);
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
		cmocka_unit_test(test_never),
		cmocka_unit_test(test_apic_calls),
		cmocka_unit_test(test_vcpu_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
