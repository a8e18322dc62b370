#include <stdarg.h>
#include "cpu.h"
#include "kick.h"
#include "log.h"
#include "msr_safe.h"
#include "panic.h"
#include "percpu.h"

void panic(const char *fmt, ...)
{
	va_list ap;

	log_printf("hvmetal: PANIC: ");
	va_start(ap, fmt);
	log_vprintf(fmt, ap);
	va_end(ap);
	log_printf("\n");
	cpu_halt_forever();
}

void panic_dump_gprs(const struct gpr_frame *g)
{
	log_printf("  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", g->rax, g->rbx, g->rcx, g->rdx);
	log_printf("  rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n", g->rsi, g->rdi, g->rbp, g->r8);
	log_printf("  r9  %016lx r10 %016lx r11 %016lx r12 %016lx\n", g->r9, g->r10, g->r11, g->r12);
	log_printf("  r13 %016lx r14 %016lx r15 %016lx\n", g->r13, g->r14, g->r15);
}

void host_exception(struct exc_frame *f)
{
	/* An NMI meant for the control domain arrived in VMX root: hand it on at the next entry. */
	if (f->vector == 2) {
		if (kick_nmi_is_cds(this_cpu()))
			percpu_set_pending(this_cpu(), PENDING_NMI);
		return;
	}
	/* An MSR access made for the control domain: the #GP becomes its error. */
	if (f->vector == 13 && msr_safe_fixup(f->rip)) {
		f->rip = msr_safe_fixup(f->rip);
		return;
	}
	log_printf("hvmetal: host exception %lu error %lx at rip %016lx rsp %016lx cr2 %016lx\n",
		   f->vector, f->error_code, f->rip, f->rsp, read_cr2());
	panic_dump_gprs(&f->gpr);
	panic("exception %lu in hvmetal", f->vector);
}
