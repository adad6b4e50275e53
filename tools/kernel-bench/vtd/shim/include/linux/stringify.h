/* Stand-in for <linux/stringify.h>: everything the generic_pt files need is in kshim.h. */
#include "../../kshim.h"
