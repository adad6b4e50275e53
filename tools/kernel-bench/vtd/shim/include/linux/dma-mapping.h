/* Stand-in for <linux/dma-mapping.h>: everything the generic_pt files need is in kshim.h. */
#include "../../kshim.h"
