/*
 * Out-of-line parts of the shim: table-page allocation (out of line, as the
 * kernel's iommu-pages.c is), the page lists, and the diagnostic counters.
 */
#include "kshim.h"
#include "drivers/iommu/iommu-pages.h"

unsigned long kshim_warn_count;
unsigned long kshim_pr_err_count;
unsigned long kshim_pages_live;

void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size)
{
	size_t bytes = size < PAGE_SIZE ? PAGE_SIZE : size;
	void *p;

	(void)nid;
	(void)gfp;
	/* power-of-two sizes only, as the kernel's order-based allocation */
	if (bytes & (bytes - 1))
		bytes = (size_t)1 << (64 - __builtin_clzll(bytes));
	p = aligned_alloc(bytes, bytes);
	if (!p)
		return NULL;
	memset(p, 0, bytes);
	kshim_pages_live++;
	return p;
}

void iommu_free_pages(void *virt)
{
	if (!virt)
		return;
	kshim_pages_live--;
	free(virt);
}

void iommu_pages_list_add(struct iommu_pages_list *list, void *virt)
{
	struct kshim_page_node *n = malloc(sizeof(*n));

	if (!n) {
		fprintf(stderr, "kshim: out of memory queueing a table page\n");
		abort();
	}
	n->next = NULL;
	n->virt = virt;
	if (list->tail)
		list->tail->next = n;
	else
		list->head = n;
	list->tail = n;
}

void iommu_put_pages_list(struct iommu_pages_list *list)
{
	struct kshim_page_node *n = list->head;

	while (n) {
		struct kshim_page_node *next = n->next;

		iommu_free_pages(n->virt);
		free(n);
		n = next;
	}
	list->head = NULL;
	list->tail = NULL;
}

void kshim_incoherent_called(const char *what)
{
	fprintf(stderr,
		"kshim: %s called, but this build models a coherent IOMMU "
		"(no PT_FEAT_DMA_INCOHERENT)\n", what);
	abort();
}
