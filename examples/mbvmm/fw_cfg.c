#include "fw_cfg.h"

void fw_cfg_init(struct fw_cfg *f, uint16_t cpus)
{
	*f = (struct fw_cfg){ .cpus = cpus };
}

void fw_cfg_select(struct fw_cfg *f, uint16_t key)
{
	f->key = key;
	f->offset = 0;
}

uint8_t fw_cfg_read(struct fw_cfg *f)
{
	static const char sig[4] = { 'Q', 'E', 'M', 'U' };
	uint32_t i = f->offset;

	if (f->offset < UINT32_MAX)
		f->offset++;
	switch (f->key) {
	case FW_CFG_SIGNATURE:
		return i < 4 ? (uint8_t)sig[i] : 0;
	case FW_CFG_NB_CPUS:
		return i < 2 ? (uint8_t)(f->cpus >> (8 * i)) : 0;
	default:
		return 0;
	}
}
