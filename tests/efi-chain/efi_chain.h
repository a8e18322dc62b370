/* Test harness, not hvmetal: the apps that prepare a machine, then start hvmetal. */
#ifndef HVMETAL_TESTS_EFI_CHAIN_H
#define HVMETAL_TESTS_EFI_CHAIN_H

#include <efi.h>

#define EFI_CHAIN_HVMETAL	L"\\EFI\\hvmetal\\hvmetal.efi"

/* Starts path from the device image was loaded from; says why not, as who, when it cannot. */
void efi_chain(EFI_HANDLE image, CHAR16 *path, const CHAR16 *who);

#endif
