/* Hypercalls behind Apple's VM and memory API: hv_capability, hv_vm_*, address spaces. */
#ifndef HVMETAL_HC_VM_H
#define HVMETAL_HC_VM_H

#include "hypercall.h"

hv_return_t hc_capability(struct hcall *c);
hv_return_t hc_vm_create(struct hcall *c);
hv_return_t hc_vm_destroy(struct hcall *c);
hv_return_t hc_vm_space_create(struct hcall *c);
hv_return_t hc_vm_space_destroy(struct hcall *c);
hv_return_t hc_vm_map(struct hcall *c);
hv_return_t hc_vm_unmap(struct hcall *c);
hv_return_t hc_vm_protect(struct hcall *c);
hv_return_t hc_vm_translate(struct hcall *c);
hv_return_t hc_vm_stats(struct hcall *c);

#endif
