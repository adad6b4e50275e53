/*
 * Stand-in for <linux/errno.h>.  glibc's own headers include <linux/errno.h> too,
 * and must get the system (uapi) one, whose values are the kernel's.
 */
#include_next <linux/errno.h>
#include "../../kshim.h"
