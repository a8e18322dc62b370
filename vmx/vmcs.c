#include "kernel/panic.h"
#include "vmcs.h"
#include "vmx_bits.h"

static uint64_t insn_error(void)
{
	uint64_t err = 0;

	vmx_vmread(VMCS_INSN_ERROR, &err);
	return err;
}

uint64_t vmcs_read(uint32_t field)
{
	uint64_t v;

	if (vmx_vmread(field, &v) != VMX_OK)
		panic("vmread %x failed (VM-instruction error %lu)", field, insn_error());
	return v;
}

void vmcs_write(uint32_t field, uint64_t val)
{
	unsigned bits = vmcs_field_bits(field);

	if (bits < 64 && (val >> bits))
		panic("vmwrite %x: value %lx wider than %u bits", field, val, bits);
	if (vmx_vmwrite(field, val) != VMX_OK)
		panic("vmwrite %x = %lx failed (VM-instruction error %lu)", field, val, insn_error());
}
