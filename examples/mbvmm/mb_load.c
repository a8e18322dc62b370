#include <string.h>
#include "mb_load.h"

#define HEADER_SEARCH	8192u
#define ELF_PT_LOAD	1u
#define ELF_ET_EXEC	2u
#define ELF_EM_386	3u
#define MB_FLAGS_OK	0x3u		/* page-aligned modules, memory info (both given anyway); not video, a.out */
#define MODS_GPA	(MB_INFO_GPA + 0x80u)
#define NAME_GPA	(MB_INFO_GPA + 0x100u)
#define CMDLINE_GPA	(MB_INFO_GPA + 0x200u)

/* No libc in a UEFI program: the one string function it needs. */
static size_t text_len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The Multiboot header: magic, flags, checksum at a 4-byte boundary in the first 8 KiB. */
static const char *find_header(const uint8_t *file, size_t size, uint32_t *flags)
{
	size_t limit = size < HEADER_SEARCH ? size : HEADER_SEARCH;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		if (get32(file + off) != MB_HEADER_MAGIC)
			continue;
		*flags = get32(file + off + 4);
		if ((uint32_t)(MB_HEADER_MAGIC + *flags + get32(file + off + 8)) != 0)
			return "Multiboot header checksum is wrong";
		if (*flags & ~MB_FLAGS_OK)
			return "Multiboot header asks for the a.out kludge, video or unknown features";
		return NULL;
	}
	return "no Multiboot header in the first 8 KiB";
}

const char *mb_load(const uint8_t *file, size_t size, uint8_t *ram, size_t ram_size, struct mb_image *img)
{
	uint32_t flags, phoff, phentsize, phnum;
	const char *why = find_header(file, size, &flags);

	if (why)
		return why;
	if (size < 52 || memcmp(file, "\x7f" "ELF", 4) || file[4] != 1 || file[5] != 1 ||
	    get16(file + 16) != ELF_ET_EXEC || get16(file + 18) != ELF_EM_386)
		return "not an ELF32 little-endian i386 executable";
	phoff = get32(file + 28);
	phentsize = get16(file + 42);
	phnum = get16(file + 44);
	if (phentsize < 32 || phnum == 0 || phoff > size || (size - phoff) / phentsize < phnum)
		return "ELF program headers outside the file";
	*img = (struct mb_image){ .entry = get32(file + 24) };
	for (uint32_t i = 0; i < phnum; i++) {
		const uint8_t *ph = file + phoff + (size_t)i * phentsize;
		uint32_t off = get32(ph + 4), pa = get32(ph + 12), filesz = get32(ph + 16), memsz = get32(ph + 20);

		if (get32(ph) != ELF_PT_LOAD || memsz == 0)
			continue;
		if (filesz > memsz || off > size || size - off < filesz)
			return "an ELF segment's bytes lie outside the file";
		if (pa > ram_size || ram_size - pa < memsz)
			return "an ELF segment lies outside guest RAM";
		if (pa < MB_INFO_END && pa + memsz > MB_INFO_GPA)
			return "an ELF segment overlaps the multiboot information (0x9000-0x9ffff)";
		memcpy(ram + pa, file + off, filesz);
		memset(ram + pa + filesz, 0, memsz - filesz);
		if (pa + memsz > img->end)
			img->end = pa + memsz;
	}
	if (!img->end)
		return "no loadable ELF segment";
	if (img->entry >= ram_size)
		return "the entry point lies outside guest RAM";
	return NULL;
}

const char *mb_info(uint8_t *ram, size_t ram_size, const struct mb_image *img, const char *cmdline,
		    const uint8_t *module, size_t module_size, const char *module_name)
{
	size_t cl = text_len(cmdline) + 1, nl = text_len(module_name) + 1;
	uint64_t mod = ((uint64_t)img->end + 0xfff) & ~0xfffull;
	uint8_t *info = ram + MB_INFO_GPA;

	if (ram_size < (2u << 20) || ram_size > (4ull << 30))
		return "guest RAM must be between 2 MiB and 4 GiB";
	if (cl > MB_INFO_END - CMDLINE_GPA || nl > CMDLINE_GPA - NAME_GPA)
		return "the command line or the module's name is too long";
	if (mod > ram_size || ram_size - mod < module_size)
		return "no room in guest RAM for the module after the kernel";
	memset(info, 0, CMDLINE_GPA - MB_INFO_GPA);
	put32(info + 0, MB_INFO_MEM | MB_INFO_CMDLINE | MB_INFO_MODS);
	put32(info + 4, 640);					/* mem_lower, KiB */
	put32(info + 8, (uint32_t)((ram_size - (1u << 20)) >> 10));	/* mem_upper, KiB above 1 MiB */
	put32(info + 16, CMDLINE_GPA);
	put32(info + 20, 1);					/* mods_count */
	put32(info + 24, MODS_GPA);
	put32(ram + MODS_GPA, (uint32_t)mod);
	put32(ram + MODS_GPA + 4, (uint32_t)(mod + module_size));
	put32(ram + MODS_GPA + 8, NAME_GPA);
	memcpy(ram + NAME_GPA, module_name, nl);
	memcpy(ram + CMDLINE_GPA, cmdline, cl);
	memcpy(ram + mod, module, module_size);
	return NULL;
}
