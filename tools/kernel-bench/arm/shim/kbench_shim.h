/* kbench shim (own code): counters shared by the shim and the harness. */
#ifndef KBENCH_SHIM_H
#define KBENCH_SHIM_H

struct kbench_counters {
	unsigned long warnings;		/* WARN_ON & co. that fired */
	const char *first_warning_file;
	int first_warning_line;
	unsigned long page_allocs;	/* table pages allocated / freed */
	unsigned long page_frees;
	unsigned long dma_calls;	/* streaming DMA calls: 0 with a coherent walk */
	unsigned long incoherent_calls;	/* iommu_pages_*_incoherent: 0 with a coherent walk */
	unsigned long dev_errors;
};

extern struct kbench_counters kbench_counters;

#endif
