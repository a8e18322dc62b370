/* The firmware's memory map, turned into hvmetal's (kernel/memmap.h). */
#ifndef HVMETAL_MEMMAP_EFI_H
#define HVMETAL_MEMMAP_EFI_H

#include <efi.h>
#include "kernel/memmap.h"

EFI_STATUS memmap_from_efi(struct memmap *m);

#endif
