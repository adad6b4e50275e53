/* kbench shim (own code): the IOMMU API types the io-pgtable code names. */
#ifndef KBENCH_LINUX_IOMMU_H
#define KBENCH_LINUX_IOMMU_H

#include <linux/kernel.h>
#include <linux/types.h>
#include <linux/device.h>
#include <asm/page.h>

/* Protection flags of map calls. */
#define IOMMU_READ	(1 << 0)
#define IOMMU_WRITE	(1 << 1)
#define IOMMU_CACHE	(1 << 2)
#define IOMMU_NOEXEC	(1 << 3)
#define IOMMU_MMIO	(1 << 4)
#define IOMMU_PRIV	(1 << 5)

/* What an unmap gathers for a later TLB sync (the benchmark passes none). */
struct iommu_iotlb_gather {
	unsigned long start;
	unsigned long end;
	size_t pgsize;
	bool queued;
};

static inline bool iommu_iotlb_gather_queued(struct iommu_iotlb_gather *gather)
{
	return gather && gather->queued;
}

/* Dirty tracking: counted only (not exercised by the benchmark). */
#define IOMMU_DIRTY_NO_CLEAR	(1 << 0)

struct iommu_dirty_bitmap {
	unsigned long recorded_bytes;
};

static inline void iommu_dirty_bitmap_record(struct iommu_dirty_bitmap *dirty,
					     unsigned long iova, unsigned long length)
{
	(void)iova;
	if (dirty)
		dirty->recorded_bytes += length;
}

#endif
