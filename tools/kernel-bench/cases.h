/*
 * The cases of `jiommu bench` for one page-table format, shared by arm/bench.c and vtd/bench.c:
 * the fixture's constants and the six operations, as src/main/java/org/jiommu/bench/
 * PageTableFixtures.java has them (change both together).
 */
#ifndef KBENCH_CASES_H
#define KBENCH_CASES_H

#include <stdbool.h>

#define PAGES		100000				/* sequential 4K pages */
#define CHUNK		256				/* pages per 256 x 4K call */
#define CHUNKS		(PAGES / CHUNK)			/* 390 */
#define BLOCKS		(4 * 512)			/* 2048 2M leaves */
#define PAGE_BASE	0x4000000000UL			/* 256 GiB */
#define BLOCK_BASE	0x8000000000UL			/* 512 GiB */
#define PA_BASE		0x100001000UL			/* 4K- but not 2M-aligned: never a 2M leaf */
#define BLOCK_PA	0x100000000UL
#define IOVA_OFFSET	0x123UL				/* where in the page iova_to_phys asks */

enum op { MAP_4K, UNMAP_4K, MAP_256X4K, UNMAP_256X4K, MAP_2M, IOVA_TO_PHYS, NR_OPS };

static const struct {
	const char *id;
	const char *what;
	int ops;		/* calls a batch makes */
	bool needs_pages;	/* the batch needs every 4K page mapped */
} OPS[NR_OPS] = {
	[MAP_4K]	= { "map-4k", "one 4K page per map call, tables present", PAGES, false },
	[UNMAP_4K]	= { "unmap-4k", "one 4K page per unmap call", PAGES, true },
	[MAP_256X4K]	= { "map-256x4k", "256 x 4K pages per map call", CHUNKS, false },
	[UNMAP_256X4K]	= { "unmap-256x4k", "256 x 4K pages per unmap call", CHUNKS, true },
	[MAP_2M]	= { "map-2m", "one 2M leaf per map call", BLOCKS, false },
	[IOVA_TO_PHYS]	= { "iova-to-phys", "iova_to_phys of a mapped 4K page", PAGES, true },
};

#endif
