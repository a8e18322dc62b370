#include <string.h>
#include "acpi_tables.h"

#define RSDT_GPA	(ACPI_RSDP_GPA + 0x40u)
#define FACP_GPA	(ACPI_RSDP_GPA + 0x80u)
#define HDR_LEN		36u		/* the common table header */
#define FACP_LEN	116u		/* ACPI 1.0 FADT */
#define FACP_PM_TMR_BLK	76u
#define FACP_PM_TMR_LEN	91u

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)-sum;
}

static void header(uint8_t *t, const char sig[4], uint32_t len)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = 1;				/* revision */
	memcpy(t + 10, "HVMETL", 6);		/* OEM ID */
	memcpy(t + 16, "MBVMM   ", 8);		/* OEM table ID */
	put32(t + 24, 1);
}

int acpi_tables_build(uint8_t *ram, size_t ram_size)
{
	uint8_t *rsdp = ram + ACPI_RSDP_GPA, *rsdt = ram + RSDT_GPA, *facp = ram + FACP_GPA;

	if (ram_size < FACP_GPA + FACP_LEN)
		return -1;
	memset(rsdp, 0, FACP_GPA + FACP_LEN - ACPI_RSDP_GPA);
	header(facp, "FACP", FACP_LEN);
	put32(facp + FACP_PM_TMR_BLK, ACPI_PM_TIMER_PORT);
	facp[FACP_PM_TMR_LEN] = 4;
	facp[9] = checksum(facp, FACP_LEN);
	header(rsdt, "RSDT", HDR_LEN + 4);
	put32(rsdt + HDR_LEN, FACP_GPA);
	rsdt[9] = checksum(rsdt, HDR_LEN + 4);
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, "HVMETL", 6);
	put32(rsdp + 16, RSDT_GPA);
	rsdp[8] = checksum(rsdp, 20);		/* ACPI 1.0 RSDP: revision 0 */
	return 0;
}
