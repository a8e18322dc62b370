/*
 * MMIO the kernel's MOVs reach: the xAPIC page (APIC-access exits: the value
 * of a read comes with the exit, a write goes to hv_vcpu_apic_write), the
 * IOAPIC's page (forwarded by its full address) and holes below 4 GiB (reads
 * all-ones, writes dropped, as on a PC). The VMM decodes the instruction at
 * RIP through the guest's page tables and retires it.
 */
#include <string.h>
#include "mb_insn.h"
#include "mb_walk.h"
#include "mbvmm.h"

#define IOAPIC_GPA	0xfec00000ull
#define IOAPIC_END	0xfec01000ull
#define CS_AR_L		(1u << 13)
#define CS_AR_D		(1u << 14)
#define EFER_LMA	(1ull << 10)
#define QUAL_APIC_OFFSET(q)	((uint32_t)(q) & 0xfff)
#define QUAL_APIC_TYPE(q)	(((q) >> 12) & 0xf)
#define APIC_LINEAR_READ	0
#define APIC_LINEAR_WRITE	1

/* Where the instruction's bytes are: the guest-physical pages of its first and last byte. */
struct code_at {
	uint64_t first, last;
};

/*
 * The instruction at RIP and the mode it runs in; false (said why) when it
 * cannot be read or is not a MOV. at (may be NULL): where its bytes are.
 */
static bool decode(struct mb_machine *m, struct mb_vcpu *c, struct mb_mov *mov, struct code_at *at)
{
	uint64_t gpas[15];
	struct mb_paging p = {
		.cr0 = mb_vmcs(c, VMCS_GUEST_CR0), .cr3 = mb_vmcs(c, VMCS_GUEST_CR3),
		.cr4 = mb_vmcs(c, VMCS_GUEST_CR4), .efer = mb_vmcs(c, VMCS_GUEST_IA32_EFER),
	};
	uint64_t ar = mb_vmcs(c, VMCS_GUEST_CS_AR), rip = mb_reg(c, HV_X86_RIP);
	uint64_t linear = mb_vmcs(c, VMCS_GUEST_CS_BASE) + rip, gpa;
	enum mb_cpu_mode mode = (p.efer & EFER_LMA) && (ar & CS_AR_L) ? MB_MODE64 : ar & CS_AR_D ? MB_MODE32 : MB_MODE16;
	uint8_t bytes[15];
	unsigned n = 0;

	/* Byte by byte: the instruction may cross into a page mapped elsewhere. */
	for (; n < sizeof(bytes); n++) {
		if (!mb_walk(m->ram, m->ram_size, &p, linear + n, &gpa) || gpa >= m->ram_size)
			break;
		bytes[n] = m->ram[gpa];
		gpas[n] = gpa;
	}
	if (mb_decode_mov(bytes, n, mode, mov)) {
		if (at)
			*at = (struct code_at){ gpas[0] & ~0xfffull, gpas[mov->len - 1] & ~0xfffull };
		return true;
	}
	plat_printf("mbvmm: error: vCPU %u: MMIO by an instruction the VMM does not decode at RIP 0x%llx "
		    "(%02x %02x %02x %02x)\n", c->index, (unsigned long long)rip, n > 0 ? bytes[0] : 0,
		    n > 1 ? bytes[1] : 0, n > 2 ? bytes[2] : 0, n > 3 ? bytes[3] : 0);
	return false;
}

/* What a store writes: the immediate or the register's low bytes. */
static uint64_t store_value(struct mb_vcpu *c, const struct mb_mov *mov)
{
	uint64_t v = mov->imm ? mov->value : mb_reg(c, mb_gpr[mov->reg]) >> (mov->high8 ? 8 : 0);

	return mov->size == 8 ? v : v & ((1ull << (8 * mov->size)) - 1);
}

/* A load into its register as the CPU does: 32-bit results zero-extend, 8/16-bit ones merge. */
static void load_value(struct mb_vcpu *c, const struct mb_mov *mov, uint64_t v)
{
	hv_x86_reg_t r = mb_gpr[mov->reg];
	uint64_t old = mb_reg(c, r), mask;

	if (mov->size < 8)
		v &= (1ull << (8 * mov->size)) - 1;
	if (mov->reg_size >= 4) {
		mb_set_reg(c, r, v);
		return;
	}
	mask = ((1ull << (8 * mov->reg_size)) - 1) << (mov->high8 ? 8 : 0);
	mb_set_reg(c, r, (old & ~mask) | ((v << (mov->high8 ? 8 : 0)) & mask));
}

static void retire(struct mb_vcpu *c, const struct mb_mov *mov)
{
	mb_set_reg(c, HV_X86_RIP, mb_reg(c, HV_X86_RIP) + mov->len);
}

/*
 * With the APIC globally disabled, or in x2APIC mode, nothing answers at the
 * xAPIC page (SDM 11.4.3, 11.12.2): it is memory, as KVM gives it.
 */
static enum mb_next apic_page_memory(struct mb_machine *m, struct mb_vcpu *c, const struct mb_mov *mov, uint32_t off)
{
	uint64_t v = 0;

	if (off + mov->size > sizeof(m->apic_page_ram))
		off = (uint32_t)(sizeof(m->apic_page_ram) - mov->size);
	if (mov->write) {
		v = store_value(c, mov);
		memcpy(m->apic_page_ram + off, &v, mov->size);
	} else {
		memcpy(&v, m->apic_page_ram + off, mov->size);
		load_value(c, mov, v);
	}
	retire(c, mov);
	return MB_RESUME;
}

/*
 * A 32-bit MOV to or from the APIC goes into the hypervisor's load-store
 * cache, keyed on (RIP, length, CS) and checked against its code bytes (the
 * VMM's mapping of the page or two holding them): the next time it runs, the
 * hypervisor completes it without an exit to the VMM. mb_exit_msr empties the
 * cache when the APIC leaves xAPIC mode (the page is memory then).
 */
static void teach_lsc(struct mb_machine *m, struct mb_vcpu *c, const struct mb_mov *mov, const struct code_at *at,
		      uint64_t rip)
{
	uint64_t uva[2] = { (uint64_t)(uintptr_t)(m->ram + at->first), (uint64_t)(uintptr_t)(m->ram + at->last) };
	unsigned pages = at->first == at->last ? 1 : 2;
	uint16_t cs = (uint16_t)mb_vmcs(c, VMCS_GUEST_CS);

	/* Every 4-byte form moves a whole r32 or an imm32 (MOVZX and the high-byte registers are narrower). */
	if (mov->size != 4)
		return;
	/* A refusal (an instruction the cache cannot take) only means the next one exits too. */
	if (mov->imm)
		hv_vcpu_apic_lsc_enter_imm32(c->id, rip, mov->len, cs, (uint32_t)mov->value, uva, pages);
	else
		hv_vcpu_apic_lsc_enter_r32(c->id, !mov->write, rip, mov->len, cs, mb_gpr[mov->reg], uva, pages);
}

enum mb_next mb_exit_apic_access(struct mb_machine *m, struct mb_vcpu *c)
{
	uint64_t q = mb_vmcs(c, VMCS_RO_EXIT_QUALIFIC), base, rip = mb_reg(c, HV_X86_RIP);
	hv_vm_exitinfo_t info = HV_VM_EXITINFO_VMX;
	struct code_at at;
	struct mb_mov mov;
	uint32_t v = 0;
	bool nse = true;

	if ((QUAL_APIC_TYPE(q) != APIC_LINEAR_READ && QUAL_APIC_TYPE(q) != APIC_LINEAR_WRITE) || !decode(m, c, &mov, &at))
		return MB_ABORT;
	base = mb_apic_base(c);
	if (!(base & APIC_BASE_EN) || (base & APIC_BASE_EXTD))
		return apic_page_memory(m, c, &mov, QUAL_APIC_OFFSET(q));
	teach_lsc(m, c, &mov, &at, rip);
	if (!mov.write) {
		/* The hypervisor has the value for a read it reports; else ask the APIC (read access, no exit info). */
		hv_vcpu_exit_info(c->id, &info);
		if (info != HV_VM_EXITINFO_APIC_ACCESS_READ || hv_vcpu_exit_apic_access_read(c->id, &v) != HV_SUCCESS)
			hv_vcpu_apic_read(c->id, QUAL_APIC_OFFSET(q), &v);
		load_value(c, &mov, v >> (8 * (q & 3)));
		retire(c, &mov);
		return MB_RESUME;
	}
	/* A narrower store writes its bytes into the register's 32 bits (the one test that does, on a disabled APIC). */
	if (mov.size < 4) {
		hv_vcpu_apic_read(c->id, QUAL_APIC_OFFSET(q) & ~3u, &v);
		v &= ~((uint32_t)((1ull << (8 * mov.size)) - 1) << (8 * (q & 3)));
		v |= (uint32_t)store_value(c, &mov) << (8 * (q & 3));
	} else {
		v = (uint32_t)store_value(c, &mov);
	}
	hv_vcpu_apic_write(c->id, QUAL_APIC_OFFSET(q) & ~3u, v, &nse);
	retire(c, &mov);
	return nse ? MB_RESUME : mb_apic_effect(m, c);
}

enum mb_next mb_exit_ept(struct mb_machine *m, struct mb_vcpu *c)
{
	uint64_t gpa = mb_vmcs(c, VMCS_GUEST_PHYSICAL_ADDRESS);
	struct mb_mov mov;
	uint32_t v = 0xffffffffu;

	if (gpa >= (4ull << 30) || gpa < m->ram_size) {
		plat_printf("mbvmm: error: vCPU %u: access to guest-physical 0x%llx (no RAM, no device) at RIP 0x%llx\n",
			    c->index, (unsigned long long)gpa, (unsigned long long)mb_reg(c, HV_X86_RIP));
		return MB_ABORT;
	}
	if (!decode(m, c, &mov, NULL))
		return MB_ABORT;
	if (gpa >= IOAPIC_GPA && gpa < IOAPIC_END) {
		if (mov.write)
			hv_vm_ioapic_write(gpa & ~3ull, (uint32_t)store_value(c, &mov));
		else
			hv_vm_ioapic_read(gpa & ~3ull, &v);
	}
	if (!mov.write)
		load_value(c, &mov, mov.size == 8 ? ~0ull : v);
	retire(c, &mov);
	return MB_RESUME;
}
