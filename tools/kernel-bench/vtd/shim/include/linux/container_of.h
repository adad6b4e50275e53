/* Stand-in for <linux/container_of.h>: everything the generic_pt files need is in kshim.h. */
#include "../../kshim.h"
