/*
 * QEMU's fw_cfg as test kernels read it: a 16-bit selector written at port
 * 0x510, then the item's bytes read one at a time from 0x511. Only the
 * signature and the CPU count (key 0x05, 16-bit) exist; anything else reads 0.
 * Pure.
 */
#ifndef FW_CFG_H
#define FW_CFG_H

#include <stdint.h>

#define FW_CFG_PORT_SEL		0x510u
#define FW_CFG_PORT_DATA	0x511u
#define FW_CFG_SIGNATURE	0x0000u
#define FW_CFG_NB_CPUS		0x0005u

struct fw_cfg {
	uint16_t key;
	uint32_t offset;	/* into the selected item */
	uint16_t cpus;
};

void fw_cfg_init(struct fw_cfg *f, uint16_t cpus);
void fw_cfg_select(struct fw_cfg *f, uint16_t key);
uint8_t fw_cfg_read(struct fw_cfg *f);

#endif
