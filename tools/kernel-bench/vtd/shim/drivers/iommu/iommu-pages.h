/*
 * Stand-in for drivers/iommu/iommu-pages.h (reached from generic_pt's
 * `#include "../iommu-pages.h"` through -I shim/drivers/iommu/generic_pt).
 * Table memory comes from aligned_alloc, zeroed; the IOMMU is coherent, so
 * the *_incoherent calls must never run (they abort if they do).
 */
#ifndef KSHIM_IOMMU_PAGES_H
#define KSHIM_IOMMU_PAGES_H

#include <linux/iommu.h>

/* Zeroed, size-aligned memory of at least size bytes (rounded up to a page). */
void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size);
void iommu_free_pages(void *virt);
/* Free every page on the list and leave it empty. */
void iommu_put_pages_list(struct iommu_pages_list *list);
/* Queue one table page for a later iommu_put_pages_list(). */
void iommu_pages_list_add(struct iommu_pages_list *list, void *virt);

void kshim_incoherent_called(const char *what) __attribute__((__noreturn__));

/* Move everything on from to the end of to. */
static inline void iommu_pages_list_splice(struct iommu_pages_list *from,
					   struct iommu_pages_list *to)
{
	if (!from->head)
		return;
	if (to->tail)
		to->tail->next = from->head;
	else
		to->head = from->head;
	to->tail = from->tail;
	from->head = NULL;
	from->tail = NULL;
}

static inline bool iommu_pages_list_empty(struct iommu_pages_list *list)
{
	return list->head == NULL;
}

static inline int iommu_pages_start_incoherent(void *virt, struct device *dma_dev)
{
	(void)virt;
	(void)dma_dev;
	kshim_incoherent_called("iommu_pages_start_incoherent");
}

static inline int iommu_pages_start_incoherent_list(struct iommu_pages_list *list,
						    struct device *dma_dev)
{
	(void)list;
	(void)dma_dev;
	kshim_incoherent_called("iommu_pages_start_incoherent_list");
}

static inline void iommu_pages_stop_incoherent_list(struct iommu_pages_list *list,
						    struct device *dma_dev)
{
	(void)list;
	(void)dma_dev;
	kshim_incoherent_called("iommu_pages_stop_incoherent_list");
}

static inline void iommu_pages_flush_incoherent(struct device *dma_dev, void *virt,
						size_t offset, size_t len)
{
	(void)dma_dev;
	(void)virt;
	(void)offset;
	(void)len;
	kshim_incoherent_called("iommu_pages_flush_incoherent");
}

/* On a coherent IOMMU freeing an "incoherent" page is a plain free. */
static inline void iommu_pages_free_incoherent(void *virt, struct device *dma_dev)
{
	(void)dma_dev;
	iommu_free_pages(virt);
}

#endif /* KSHIM_IOMMU_PAGES_H */
