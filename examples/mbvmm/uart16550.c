#include "uart16550.h"

#define LCR_DLAB	0x80u
#define LSR_THRE_TEMT	0x60u		/* transmitter holding and shift registers empty */
#define IIR_NONE	0x01u		/* no interrupt pending */

void uart_init(struct uart16550 *u, void (*out)(void *ctx, char c), void *ctx)
{
	*u = (struct uart16550){ .out = out, .ctx = ctx, .dll = 12 };	/* 9600 baud */
}

uint8_t uart_read(struct uart16550 *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case 0: return dlab ? u->dll : 0;	/* RBR: nothing received */
	case 1: return dlab ? u->dlm : u->ier;
	case 2: return IIR_NONE;
	case 3: return u->lcr;
	case 4: return u->mcr;
	case 5: return LSR_THRE_TEMT;
	case 6: return 0xb0;			/* MSR: DCD, DSR, CTS */
	case 7: return u->scr;
	default: return 0xff;
	}
}

void uart_write(struct uart16550 *u, unsigned reg, uint8_t val)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case 0:
		if (dlab)
			u->dll = val;
		else if (u->out)
			u->out(u->ctx, (char)val);
		break;
	case 1:
		if (dlab)
			u->dlm = val;
		else
			u->ier = val & 0x0f;
		break;
	case 3: u->lcr = val; break;
	case 4: u->mcr = val & 0x1f; break;
	case 7: u->scr = val; break;
	default: break;			/* FCR, LSR, MSR: nothing to keep */
	}
}
