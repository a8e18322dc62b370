/*
 * hv_vm_allocate.h - page-aligned memory for guests, in the caller's own
 * address space, ready to be passed to hv_vm_map().
 */
#ifndef HYPERVISOR_HV_VM_ALLOCATE_H
#define HYPERVISOR_HV_VM_ALLOCATE_H

#include <Hypervisor/hv_base.h>
#include <Hypervisor/hv_error.h>

HV_EXTERN_C_BEGIN

typedef uint64_t hv_allocate_flags_t;
enum {
	HV_ALLOCATE_DEFAULT	= 0,
};

/*
 * Allocate size bytes (a multiple of the 4096-byte page size), readable
 * and writable by the caller; the address comes back in *uvap.
 */
hv_return_t hv_vm_allocate(void **uvap, size_t size,
	hv_allocate_flags_t flags);

/* Free a whole region returned by hv_vm_allocate(). */
hv_return_t hv_vm_deallocate(void *uva, size_t size);

HV_EXTERN_C_END

#endif /* HYPERVISOR_HV_VM_ALLOCATE_H */
