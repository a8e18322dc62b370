/*
 * The least ACPI a test kernel looks for: an RSDP in the BIOS area pointing
 * to an RSDT whose one entry is a FACP (FADT) naming the PM timer's port.
 * Checksums are right, though the kernels do not check them. Pure: RAM is a
 * byte array here.
 */
#ifndef ACPI_TABLES_H
#define ACPI_TABLES_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_RSDP_GPA		0xe0000u	/* the search range starts here */
#define ACPI_PM_TIMER_PORT	0x608u		/* QEMU's: a 24-bit counter at 3.579545 MHz */
#define ACPI_PM_TIMER_HZ	3579545u

/* Writes RSDP, RSDT and FACP at ACPI_RSDP_GPA (ram_size must reach past 0xe1000); 0 or -1. */
int acpi_tables_build(uint8_t *ram, size_t ram_size);

#endif
