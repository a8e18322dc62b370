/* The kernel has no C library: <stdint.h> of hvmetal's shared headers is the kernel's own types. */
#include <linux/types.h>
