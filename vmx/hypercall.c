#include <Hypervisor/hv_error.h>
#include <hvmetal/abi.h>
#include "hypercall.h"
#include "kernel/cpu.h"
#include "kernel/host.h"
#include "kernel/hvmetal.h"
#include "uaccess.h"
#include "vmcs.h"
#include "vmx_bits.h"

/* One call: arguments copied out of the frame before any handler runs. */
struct hcall {
	uint64_t arg[6];		/* RDI, RSI, RDX, RCX, R8, R9 */
	struct gpr_frame *gpr;		/* for the calls that return a scalar in RDX */
};

typedef hv_return_t (*hcall_fn)(struct hcall *c);

static void *identity(uint64_t pa)
{
	return (void *)(uintptr_t)pa;
}

struct uaccess hypercall_uaccess(void)
{
	return (struct uaccess){
		.pg = {
			.cr0 = vmcs_read(VMCS_GUEST_CR0),
			.cr3 = vmcs_read(VMCS_GUEST_CR3),
			.cr4 = vmcs_read(VMCS_GUEST_CR4),
			.efer = vmcs_read(VMCS_GUEST_EFER),
			.rflags = vmcs_read(VMCS_GUEST_RFLAGS),
			.maxphyaddr = hv.maxphyaddr,
		},
		.map = &hv.boot.memmap,
		.phys = identity,
	};
}

static hv_return_t copy_out(uint64_t gva, const void *src, size_t n)
{
	struct uaccess ua = hypercall_uaccess();

	return uaccess_copy_out(&ua, gva, src, n) ? HV_BAD_ARGUMENT : HV_SUCCESS;
}

static hv_return_t hc_version(struct hcall *c)
{
	c->gpr->rdx = HVMETAL_ABI_VERSION;
	return HV_SUCCESS;
}

static hv_return_t hc_info(struct hcall *c)
{
	struct hvmetal_info info = {
		.abi_version = HVMETAL_ABI_VERSION,
		.cpu_count = hv.cpus_launched,
		.features = hv.features,
		.region_base = hv.boot.region_base,
		.region_size = hv.boot.region_size,
		.pool_total = pool_total_bytes(&host_pool),
		.pool_free = pool_free_bytes(&host_pool),
	};

	if (c->arg[1] != sizeof(info))
		return HV_BAD_ARGUMENT;
	return copy_out(c->arg[0], &info, sizeof(info));
}

static hv_return_t hc_selfcheck(struct hcall *c)
{
	const uint64_t *canary = (const uint64_t *)(uintptr_t)hv.canary_page;
	struct hvmetal_selfcheck sc = {
		.canary_addr = hv.canary_page,
		.canary_value = hv.canary_value,
		.canary_intact = 1,
		.code_checksum = hvmetal_code_checksum(),
	};

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		if (canary[i] != hv.canary_value)
			sc.canary_intact = 0;
	sc.code_intact = sc.code_checksum == hv.code_checksum;
	return copy_out(c->arg[0], &sc, sizeof(sc));
}

static const hcall_fn hcalls[HVMETAL_HC_COUNT] = {
	[HVMETAL_HC_VERSION]	= hc_version,
	[HVMETAL_HC_INFO]	= hc_info,
	[HVMETAL_HC_SELFCHECK]	= hc_selfcheck,
};

static unsigned caller_cpl(void)
{
	if (vmcs_read(VMCS_GUEST_RFLAGS) & RFLAGS_VM)
		return 3;
	return (vmcs_read(VMCS_GUEST_SS_AR) >> 5) & 3;	/* SS.DPL is the CPL */
}

enum exit_action hypercall_exit(struct vmx_exit *ex)
{
	struct gpr_frame *g = ex->gpr;
	struct hcall c = {
		.arg = { g->rdi, g->rsi, g->rdx, g->rcx, g->r8, g->r9 },
		.gpr = g,
	};

	/* Only the control domain's kernel may call; user code gets a refusal, not service. */
	if (caller_cpl() != 0)
		g->rax = HV_DENIED;
	else if (g->rax >= HVMETAL_HC_COUNT || !hcalls[g->rax])
		g->rax = HV_UNSUPPORTED;
	else
		g->rax = hcalls[g->rax](&c);
	return EXIT_ADVANCE;
}
