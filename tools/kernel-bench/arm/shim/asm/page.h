/* kbench shim (own code): 4K pages; kernel virtual == physical (identity, user-space pointers fit in 47 bits). */
#ifndef KBENCH_ASM_PAGE_H
#define KBENCH_ASM_PAGE_H

#include <linux/types.h>

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))

static inline phys_addr_t virt_to_phys(const volatile void *addr)
{
	return (phys_addr_t)(uintptr_t)addr;
}

static inline void *phys_to_virt(phys_addr_t addr)
{
	return (void *)(uintptr_t)addr;
}

#define __pa(x)	virt_to_phys((void *)(x))
#define __va(x)	phys_to_virt((phys_addr_t)(x))

#endif
