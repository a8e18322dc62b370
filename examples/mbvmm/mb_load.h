/*
 * Loading a Multiboot v1 kernel as QEMU's -kernel does (../../../shared/
 * MULTIBOOT-VMM.md): the ELF32 image by its program headers into guest RAM,
 * then the multiboot information (memory, command line, one module) low in
 * RAM. Pure: guest RAM is a byte array here; every offset is checked.
 */
#ifndef MB_LOAD_H
#define MB_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define MB_HEADER_MAGIC		0x1badb002u
#define MB_BOOT_MAGIC		0x2badb002u	/* EAX at entry */
#define MB_INFO_GPA		0x9000u		/* the info block, its module list and command line */
#define MB_INFO_END		0xa0000u
#define MB_INFO_MEM		(1u << 0)
#define MB_INFO_CMDLINE		(1u << 2)
#define MB_INFO_MODS		(1u << 3)

struct mb_image {
	uint32_t entry;		/* EIP at entry: the ELF entry point */
	uint32_t end;		/* first byte past the highest loaded segment (BSS included) */
};

/*
 * The kernel's ELF32 image (size bytes) into ram (ram_size bytes at GPA 0):
 * NULL, or why not (no Multiboot header in the first 8 KiB, a bad checksum,
 * not ELF32 i386 ET_EXEC, a flag it would need that is not supported, a
 * segment outside RAM or over the info block).
 */
const char *mb_load(const uint8_t *file, size_t size, uint8_t *ram, size_t ram_size, struct mb_image *img);

/*
 * The multiboot information at MB_INFO_GPA: mem_lower/mem_upper for ram_size,
 * the command line (cmdline: "NAME ARGS", argv[0] first), and one module
 * (module, module_size bytes, named module_name) copied to the first page
 * boundary at or after img->end. NULL, or why not (too long, no room).
 */
const char *mb_info(uint8_t *ram, size_t ram_size, const struct mb_image *img, const char *cmdline,
		    const uint8_t *module, size_t module_size, const char *module_name);

#endif
