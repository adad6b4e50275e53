/* Stand-in for <linux/bits.h>: everything the generic_pt files need is in kshim.h. */
#include "../../kshim.h"
