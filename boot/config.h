/* \EFI\hvmetal\hvmetal.cfg: "key = value" lines, '#' comments. */
#ifndef HVMETAL_CONFIG_H
#define HVMETAL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_PATH_MAX		128
#define CONFIG_ARGS_MAX		512	/* next_args with its NUL (Linux allows 2048) */
#define CONFIG_DEFAULT_NEXT	"\\EFI\\hvmetal\\hvtest.efi"
#define CONFIG_DEFAULT_POOL_MIB	32
#define CONFIG_MIN_POOL_MIB	4
#define CONFIG_MAX_POOL_MIB	4096
#define CONFIG_MAX_CPUS		64	/* HV_MAX_CPUS: per-CPU structures hvmetal has */

struct hv_config {
	char next[CONFIG_PATH_MAX];	/* image started after the launch; "" = none */
	char next_args[CONFIG_ARGS_MAX];	/* its LoadOptions (a kernel's command line); "" = none */
	uint32_t pool_mib;		/* size of hvmetal's page pool */
	uint32_t max_cpus;		/* refuse to start on a machine with more CPUs */
	uint32_t vmx_hide;		/* VMX_HIDE_*: features to act as if the CPU lacked */
};

void config_defaults(struct hv_config *cfg);
/*
 * Parses text over the defaults. Returns NULL, or the first problem as one line in
 * err (the bad line is skipped, the rest still applies).
 */
const char *config_parse(struct hv_config *cfg, const char *text, size_t len,
			 char *err, size_t errlen);

#endif
