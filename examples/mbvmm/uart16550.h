/*
 * COM1 as a test kernel drives it: a 16550 whose transmitter is always empty
 * (LSR 0x60), with the divisor latch (LCR.DLAB) kept apart from the data
 * register, so the divisor bytes never show as output. No receive, no
 * interrupts (IER is stored). Pure: the caller owns the ports' dispatch.
 */
#ifndef UART16550_H
#define UART16550_H

#include <stdbool.h>
#include <stdint.h>

#define UART_COM1	0x3f8u

struct uart16550 {
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	void (*out)(void *ctx, char c);	/* each byte written to THR */
	void *ctx;
};

void uart_init(struct uart16550 *u, void (*out)(void *ctx, char c), void *ctx);
/* reg = port - base (0..7). */
uint8_t uart_read(struct uart16550 *u, unsigned reg);
void uart_write(struct uart16550 *u, unsigned reg, uint8_t val);

#endif
