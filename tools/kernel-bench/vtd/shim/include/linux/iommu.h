/*
 * Stand-in for <linux/iommu.h>: only the IOMMU-core types and inline helpers
 * that generic_pt's iommu_pt.h and the harness use, written from their
 * documented behaviour (domain, domain ops, IOTLB gather, page lists).
 */
#ifndef KSHIM_LINUX_IOMMU_H
#define KSHIM_LINUX_IOMMU_H

#include "../../kshim.h"

#define IOMMU_READ (1 << 0)
#define IOMMU_WRITE (1 << 1)
#define IOMMU_CACHE (1 << 2)
#define IOMMU_NOEXEC (1 << 3)
#define IOMMU_MMIO (1 << 4)
#define IOMMU_PRIV (1 << 5)

#define __IOMMU_DOMAIN_PAGING (1U << 0)

struct device;
struct iova_bitmap;
struct iommu_domain;

/*
 * A list of page-table pages waiting to be freed.  The kernel threads them
 * through their struct page; user-space pages have none, so this keeps a
 * singly linked chain of small nodes (allocated only when a table is queued
 * for freeing, which none of the timed cases do).
 */
struct kshim_page_node {
	struct kshim_page_node *next;
	void *virt;
};

struct iommu_pages_list {
	struct kshim_page_node *head;
	struct kshim_page_node *tail;
};

#define IOMMU_PAGES_LIST_INIT(name) \
	((struct iommu_pages_list){ .head = NULL, .tail = NULL })

/* Pending IOTLB invalidation: an IOVA range and the table pages it frees. */
struct iommu_iotlb_gather {
	unsigned long start;
	unsigned long end;
	size_t pgsize;
	struct iommu_pages_list freelist;
	bool queued;
};

struct iommu_domain_geometry {
	dma_addr_t aperture_start;
	dma_addr_t aperture_end;
	bool force_aperture;
};

/* The subset of the kernel's domain ops that a generic_pt paging domain fills. */
struct iommu_domain_ops {
	int (*map_pages)(struct iommu_domain *domain, unsigned long iova,
			 phys_addr_t paddr, size_t pgsize, size_t pgcount,
			 int prot, gfp_t gfp, size_t *mapped);
	size_t (*unmap_pages)(struct iommu_domain *domain, unsigned long iova,
			      size_t pgsize, size_t pgcount,
			      struct iommu_iotlb_gather *iotlb_gather);
	void (*iotlb_sync)(struct iommu_domain *domain,
			   struct iommu_iotlb_gather *iotlb_gather);
	phys_addr_t (*iova_to_phys)(struct iommu_domain *domain,
				    dma_addr_t iova);
	void (*free)(struct iommu_domain *domain);
};

struct iommu_domain {
	unsigned int type;
	const struct iommu_domain_ops *ops;
	unsigned long pgsize_bitmap;
	struct iommu_domain_geometry geometry;
	void *iova_cookie;
};

struct iommu_dirty_bitmap {
	struct iova_bitmap *bitmap;
	struct iommu_iotlb_gather *gather;
};

#define IOMMU_DIRTY_NO_CLEAR (1 << 0)

/* Dirty tracking is not built (no CONFIG_IOMMUFD_DRIVER); this only links. */
static inline void iova_bitmap_set(struct iova_bitmap *bitmap,
				   unsigned long iova, size_t length)
{
	(void)bitmap;
	(void)iova;
	(void)length;
}

/* Empty gather: start above end. */
static inline void iommu_iotlb_gather_init(struct iommu_iotlb_gather *gather)
{
	*gather = (struct iommu_iotlb_gather){
		.start = ULONG_MAX,
		.freelist = IOMMU_PAGES_LIST_INIT(gather->freelist),
	};
}

/* Grow the gathered range to cover [iova, iova + size). */
static inline void iommu_iotlb_gather_add_range(struct iommu_iotlb_gather *gather,
						unsigned long iova, size_t size)
{
	unsigned long last = iova + size - 1;

	if (gather->start > iova)
		gather->start = iova;
	if (gather->end < last)
		gather->end = last;
}

/* True when the range neither overlaps nor touches a non-empty gather. */
static inline bool iommu_iotlb_gather_is_disjoint(struct iommu_iotlb_gather *gather,
						  unsigned long iova, size_t size)
{
	unsigned long first = iova, last = iova + size - 1;

	return gather->end != 0 &&
	       (last + 1 < gather->start || first > gather->end + 1);
}

/* Hand the gather to the driver's sync (flush + free), then empty it. */
static inline void iommu_iotlb_sync(struct iommu_domain *domain,
				    struct iommu_iotlb_gather *gather)
{
	if (domain->ops->iotlb_sync)
		domain->ops->iotlb_sync(domain, gather);
	iommu_iotlb_gather_init(gather);
}

#endif /* KSHIM_LINUX_IOMMU_H */
