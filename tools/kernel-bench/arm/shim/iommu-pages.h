/*
 * kbench shim (own code), found instead of drivers/iommu/iommu-pages.h: table pages come from
 * aligned_alloc() of the size rounded up to a power of two, at least one 4K page, aligned to
 * that size, and are zeroed (kbench_shim.c). The "incoherent" pair is for non-coherent walkers
 * only and is never reached here (counted).
 */
#ifndef KBENCH_IOMMU_PAGES_H
#define KBENCH_IOMMU_PAGES_H

#include <linux/types.h>
#include <linux/device.h>

void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size);
void iommu_free_pages(void *virt);
int iommu_pages_start_incoherent(void *virt, struct device *dev);
void iommu_pages_free_incoherent(void *virt, struct device *dev);

static inline void *iommu_alloc_pages_sz(gfp_t gfp, size_t size)
{
	return iommu_alloc_pages_node_sz(-1, gfp, size);
}

#endif
