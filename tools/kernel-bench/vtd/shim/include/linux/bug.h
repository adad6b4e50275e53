/* Stand-in for <linux/bug.h>: everything the generic_pt files need is in kshim.h. */
#include "../../kshim.h"
