/*
 * kbench shim (own code): the out-of-line parts of the shim headers, and the counters the
 * harness reads to prove the run stayed on the coherent, warning-free path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/dma-mapping.h>
#include "iommu-pages.h"
#include "kbench_shim.h"

struct kbench_counters kbench_counters;

void kbench_warn_hit(const char *file, int line)
{
	if (kbench_counters.warnings++ == 0) {
		kbench_counters.first_warning_file = file;
		kbench_counters.first_warning_line = line;
	}
}

void kbench_bug(const char *file, int line)
{
	fprintf(stderr, "kbench: BUG at %s:%d\n", file, line);
	abort();
}

void kbench_dev_err(struct device *dev, const char *fmt, ...)
{
	va_list ap;

	kbench_counters.dev_errors++;
	fprintf(stderr, "kbench: dev_err(%s): ", dev && dev->name ? dev->name : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void *kbench_kmalloc(size_t size, gfp_t gfp)
{
	(void)gfp;
	return malloc(size);
}

void *kbench_kzalloc(size_t size, gfp_t gfp)
{
	(void)gfp;
	return calloc(1, size);
}

void kbench_kfree(const void *p)
{
	free((void *)p);
}

void *iommu_alloc_pages_node_sz(int nid, gfp_t gfp, size_t size)
{
	size_t n = 4096;
	void *p;

	(void)nid;
	(void)gfp;
	while (n < size)
		n <<= 1;
	p = aligned_alloc(n, n);
	if (!p)
		return NULL;
	memset(p, 0, n);
	kbench_counters.page_allocs++;
	return p;
}

void iommu_free_pages(void *virt)
{
	if (!virt)
		return;
	kbench_counters.page_frees++;
	free(virt);
}

int iommu_pages_start_incoherent(void *virt, struct device *dev)
{
	(void)virt;
	(void)dev;
	kbench_counters.incoherent_calls++;
	return 0;
}

void iommu_pages_free_incoherent(void *virt, struct device *dev)
{
	(void)dev;
	kbench_counters.incoherent_calls++;
	iommu_free_pages(virt);
}

dma_addr_t dma_map_single(struct device *dev, void *ptr, size_t size, enum dma_data_direction dir)
{
	(void)dev;
	(void)size;
	(void)dir;
	kbench_counters.dma_calls++;
	return virt_to_phys(ptr);
}

void dma_unmap_single(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir)
{
	(void)dev;
	(void)addr;
	(void)size;
	(void)dir;
	kbench_counters.dma_calls++;
}

void dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size,
				enum dma_data_direction dir)
{
	(void)dev;
	(void)addr;
	(void)size;
	(void)dir;
	kbench_counters.dma_calls++;
}

int dma_mapping_error(struct device *dev, dma_addr_t addr)
{
	(void)dev;
	(void)addr;
	return 0;
}
