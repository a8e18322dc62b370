#include "kernel/panic.h"
#include "vmcs.h"
#include "vmx_bits.h"

static uint64_t insn_error(void)
{
	uint64_t err = 0;

	vmx_vmread(VMCS_INSN_ERROR, &err);
	return err;
}

void vmcs_read_failed(uint32_t field)
{
	panic("vmread %x failed (VM-instruction error %lu)", field, insn_error());
}

void vmcs_write_failed(uint32_t field, uint64_t val)
{
	unsigned bits = vmcs_field_bits(field);

	if (bits < 64 && (val >> bits))
		panic("vmwrite %x: value %lx wider than %u bits", field, val, bits);
	panic("vmwrite %x = %lx failed (VM-instruction error %lu)", field, val, insn_error());
}
