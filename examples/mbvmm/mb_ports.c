/*
 * The I/O ports of the machine a test kernel expects: COM1, the exit port
 * (isa-debug-exit at 0xf4), fw_cfg, pc-testdev's IRQ lines (IOAPIC pins) and
 * flush hint, the ACPI PM timer, the 8259 pair (the hypervisor's, forwarded).
 * Any other port reads all-ones and ignores writes.
 */
#include "acpi_tables.h"
#include "mbvmm.h"

#define IO_SIZE(q)	(((q) & 7) + 1)
#define IO_IN		(1u << 3)
#define IO_STRING	(1u << 4)
#define IO_PORT(q)	((uint16_t)((q) >> 16))
#define EXIT_PORT	0xf4
#define TESTDEV_IRQ	0x2000		/* + line: a byte out sets ISA IRQ line n to !!value */
#define TESTDEV_LINES	24
#define TESTDEV_FLUSH	0xe4

/* The ACPI PM timer: 3.579545 MHz from the platform clock, 24 bits. */
static uint32_t pm_timer(const struct mb_machine *m)
{
	uint64_t ticks = plat_clock() - m->pm_timer_base, per_ms = plat_clock_ms(1);

	return (uint32_t)((ticks / per_ms * ACPI_PM_TIMER_HZ + ticks % per_ms * ACPI_PM_TIMER_HZ / per_ms) / 1000) &
	       0xffffff;
}

static bool atpic_port(uint16_t port)
{
	return port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 || port == 0x4d0 || port == 0x4d1;
}

static uint32_t port_in(struct mb_machine *m, uint16_t port, unsigned size)
{
	uint8_t b = 0xff;

	if (port >= UART_COM1 && port < UART_COM1 + 8)
		return uart_read(&m->uart, port - UART_COM1);
	if (port == FW_CFG_PORT_DATA)
		return fw_cfg_read(&m->fw_cfg);
	if (port == ACPI_PM_TIMER_PORT && size == 4)
		return pm_timer(m);
	if (atpic_port(port) && hv_vm_atpic_port_read(port, &b) == HV_SUCCESS)
		return b;
	return 0xffffffffu;
}

static enum mb_next port_out(struct mb_machine *m, uint16_t port, unsigned size, uint32_t val)
{
	if (port >= UART_COM1 && port < UART_COM1 + 8) {
		uart_write(&m->uart, port - UART_COM1, (uint8_t)val);
	} else if (port == EXIT_PORT) {
		m->exited = true;
		m->exit_status = (int)((val << 1) | 1);
		return MB_DONE;
	} else if (port == FW_CFG_PORT_SEL && size == 2) {
		fw_cfg_select(&m->fw_cfg, (uint16_t)val);
	} else if (port >= TESTDEV_IRQ && port < TESTDEV_IRQ + TESTDEV_LINES && size == 1) {
		if ((uint8_t)val)
			hv_vm_ioapic_assert_irq((int)(port - TESTDEV_IRQ));
		else
			hv_vm_ioapic_deassert_irq((int)(port - TESTDEV_IRQ));
	} else if (atpic_port(port) && size == 1) {
		hv_vm_atpic_port_write(port, (uint8_t)val);
	}
	/* TESTDEV_FLUSH and every other port: nothing to do. */
	return MB_RESUME;
}

enum mb_next mb_exit_io(struct mb_machine *m, struct mb_vcpu *c)
{
	uint64_t q = mb_vmcs(c, VMCS_RO_EXIT_QUALIFIC), rax = mb_reg(c, HV_X86_RAX);
	unsigned size = IO_SIZE(q);
	uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;
	enum mb_next next = MB_RESUME;

	if (q & IO_STRING) {
		plat_printf("mbvmm: error: vCPU %u: string I/O (INS/OUTS) at port 0x%x is not emulated\n",
			    c->index, IO_PORT(q));
		return MB_ABORT;
	}
	if (q & IO_IN) {
		/* IN of 32 bits zero-extends into RAX; 8 and 16 bits leave the rest. */
		uint64_t in = port_in(m, IO_PORT(q), size) & mask;

		mb_set_reg(c, HV_X86_RAX, size == 4 ? in : (rax & ~mask) | in);
	} else {
		next = port_out(m, IO_PORT(q), size, (uint32_t)(rax & mask));
	}
	mb_skip(c);
	return next;
}
