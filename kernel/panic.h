/* Fatal errors: one line saying why, a register dump, and this CPU stops. */
#ifndef HVMETAL_PANIC_H
#define HVMETAL_PANIC_H

#include <stdint.h>

/* General-purpose registers in the order the asm stubs push them. */
struct gpr_frame {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

struct exc_frame {
	struct gpr_frame gpr;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void panic_dump_gprs(const struct gpr_frame *g);
void host_exception(struct exc_frame *f);

#endif
