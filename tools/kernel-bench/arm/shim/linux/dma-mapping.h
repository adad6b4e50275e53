/*
 * kbench shim (own code): streaming DMA calls. The tables are walked coherently
 * (cfg.coherent_walk), so the io-pgtable code never calls these; they are out of line and
 * count calls, which the harness checks stay at zero.
 */
#ifndef KBENCH_LINUX_DMA_MAPPING_H
#define KBENCH_LINUX_DMA_MAPPING_H

#include <linux/types.h>
#include <linux/device.h>
#include <asm/page.h>

enum dma_data_direction {
	DMA_BIDIRECTIONAL = 0,
	DMA_TO_DEVICE = 1,
	DMA_FROM_DEVICE = 2,
	DMA_NONE = 3,
};

dma_addr_t dma_map_single(struct device *dev, void *ptr, size_t size, enum dma_data_direction dir);
void dma_unmap_single(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir);
void dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size,
				enum dma_data_direction dir);
int dma_mapping_error(struct device *dev, dma_addr_t addr);

#endif
