/* Stand-in for <linux/log2.h>: everything the generic_pt files need is in kshim.h. */
#include "../../kshim.h"
