/* What libhv's files share: the caller's VM (Apple's "current task" has one). */
#ifndef HVMETAL_LIBHV_H
#define HVMETAL_LIBHV_H

#include <stdint.h>

/* The handle of the VM hv_vm_create made; 0 when there is none. */
uint64_t libhv_vm(void);

#endif
