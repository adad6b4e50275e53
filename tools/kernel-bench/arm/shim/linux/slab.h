/* kbench shim (own code): kmalloc family on the C heap (only used when a table is set up or freed). */
#ifndef KBENCH_LINUX_SLAB_H
#define KBENCH_LINUX_SLAB_H

#include <linux/types.h>

#define GFP_KERNEL	0x01u
#define GFP_ATOMIC	0x02u
#define __GFP_ZERO	0x100u
#define __GFP_HIGHMEM	0x200u

void *kbench_kmalloc(size_t size, gfp_t gfp);
void *kbench_kzalloc(size_t size, gfp_t gfp);
void kbench_kfree(const void *p);

#define kmalloc(size, gfp)	kbench_kmalloc(size, gfp)
#define kzalloc(size, gfp)	kbench_kzalloc(size, gfp)
#define kfree(p)		kbench_kfree(p)
/* kmalloc_obj(obj[, gfp]): room for one object of obj's type, typed pointer back. */
#define kmalloc_obj(obj, ...)	((__typeof__(obj) *)kbench_kmalloc(sizeof(obj), GFP_KERNEL))
#define kzalloc_obj(obj, ...)	((__typeof__(obj) *)kbench_kzalloc(sizeof(obj), GFP_KERNEL))

#endif
