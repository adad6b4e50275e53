/*
 * Stand-in for <linux/limits.h>.  glibc's own headers include <linux/limits.h> too,
 * and must get the system (uapi) one, whose values are the kernel's.
 */
#include_next <linux/limits.h>
#include "../../kshim.h"
