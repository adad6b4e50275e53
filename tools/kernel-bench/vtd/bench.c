/*
 * bench.c - times the kernel's generic page-table code for the VT-d second
 * stage (drivers/iommu/generic_pt, format vtdss), compiled unmodified in user
 * space against ./shim, on exactly the cases of `jiommu bench` for vtd-sl
 * (src/main/java/org/jiommu/bench/PageTableFixtures.java) with the same method
 * (Harness.java / Budget.java): a fixture whose intermediate tables already
 * exist, warm-up iterations thrown away, measured iterations of whole timed
 * batches with the fixture's untimed prepare() between batches, one ns/call
 * figure per iteration, median and min/max over the measured iterations.
 *
 * Every call goes through the domain ops the kernel version exports
 * (IOMMU_PT_DOMAIN_OPS(vtdss)), as the IOMMU core reaches them for one
 * iommu_map()/iommu_unmap()/iommu_iova_to_phys() whose size is a single page
 * size times a count: ops->map_pages(iova, pa, pgsize, pgcount, prot, gfp,
 * &mapped), ops->unmap_pages(iova, pgsize, pgcount, &gather),
 * ops->iova_to_phys(iova).  No core loop, no iotlb_sync between calls: the
 * gather is reset between batches, as jiommu does.
 *
 * The format is chosen at compile time: by default vtdss (cases vtd-sl/...);
 * with -DKBENCH_FMT_X86_64 the x86-64 first-level format (generic_pt x86_64,
 * the VT-d driver's first-stage domain; cases x86-fl/..., jiommu's group name).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <linux/generic_pt/iommu.h>
#include "drivers/iommu/iommu-pages.h"

extern unsigned long kshim_warn_count;
extern unsigned long kshim_pr_err_count;
extern unsigned long kshim_pages_live;

#include "../cases.h"

#ifdef KBENCH_FMT_X86_64
#define GROUP "x86-fl/"
#define FMT_DESC "x86_64 (VT-d first stage: hw_max_vasz_lg2=48, top_level=3, hw_max_oasz_lg2=52, " \
	"SIGN_EXTEND|FLUSH_RANGE, coherent)"
#else
#define GROUP "vtd-sl/"
#define FMT_DESC "vtdss (hw_max_vasz_lg2=48, top_level=3, hw_max_oasz_lg2=52, FLUSH_RANGE, coherent)"
#endif

#define SZ_4K (1UL << 12)
#define SZ_2M (1UL << 21)
#define SZ_1G (1UL << 30)
#define PROT_RW (IOMMU_READ | IOMMU_WRITE)
/*
 * top + one L2 per 512 GiB region (2) + L1: 1 for the pages, 4 for the blocks + 196 L0;
 * the same for x86_64 (4 levels of 512 entries; both ranges lie in the lower half).
 */
#define EXPECTED_TABLE_PAGES (1 + 2 + 1 + 4 + (PAGES + 511) / 512)

static volatile u64 sink;

static void die(const char *fmt, ...) __attribute__((__noreturn__, __format__(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "\n*** kernel-bench vtd: FAILED: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " ***\n");
	va_end(ap);
	exit(1);
}

/* ---- the domain: a VT-d second-stage paging domain as the Intel driver makes it ---- */

/* What intel's iotlb_sync does to memory: free the gathered table pages (no HW to flush). */
static void bench_iotlb_sync(struct iommu_domain *domain, struct iommu_iotlb_gather *gather)
{
	(void)domain;
	iommu_put_pages_list(&gather->freelist);
}

#ifdef KBENCH_FMT_X86_64
static const struct iommu_domain_ops x86_64_domain_ops = {
	IOMMU_PT_DOMAIN_OPS(x86_64),
	.iotlb_sync = bench_iotlb_sync,
};
#else
static const struct iommu_domain_ops vtdss_domain_ops = {
	IOMMU_PT_DOMAIN_OPS(vtdss),
	.iotlb_sync = bench_iotlb_sync,
};
#endif

struct table {
#ifdef KBENCH_FMT_X86_64
	struct pt_iommu_x86_64 pt; /* pt.iommu.domain is the iommu_domain */
#else
	struct pt_iommu_vtdss pt; /* pt.iommu.domain is the iommu_domain */
#endif
	struct iommu_domain *domain;
	struct iommu_iotlb_gather gather;
	size_t mapped;
	enum op op;
	bool pages_mapped;
	bool blocks_mapped;
};

static int core_map(struct table *t, u64 iova, u64 pa, size_t pgsize, size_t count)
{
	return t->domain->ops->map_pages(t->domain, iova, pa, pgsize, count, PROT_RW,
					 GFP_KERNEL, &t->mapped);
}

static size_t core_unmap(struct table *t, u64 iova, size_t pgsize, size_t count)
{
	return t->domain->ops->unmap_pages(t->domain, iova, pgsize, count, &t->gather);
}

static phys_addr_t core_iova_to_phys(struct table *t, u64 iova)
{
	return t->domain->ops->iova_to_phys(t->domain, iova);
}

/* Unmaps gather only what they free (nothing here); keep the gather from growing across batches. */
static void reset_gather(struct table *t)
{
	iommu_put_pages_list(&t->gather.freelist);
	iommu_iotlb_gather_init(&t->gather);
}

static void map_pages_setup(struct table *t)
{
	for (int i = 0; i < PAGES; i += 512) {
		size_t n = PAGES - i < 512 ? PAGES - i : 512;

		t->mapped = 0;
		int ret = core_map(t, PAGE_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, n);
		if (ret || t->mapped != n * SZ_4K)
			die("set-up: map 4K pages at page %d: ret %d mapped %zu", i, ret, t->mapped);
	}
	t->pages_mapped = true;
}

/* Page by page, holes allowed (a 256-page batch leaves the tail of the range unmapped). */
static void unmap_pages_one_by_one(struct table *t)
{
	for (int i = 0; i < PAGES; i++)
		core_unmap(t, PAGE_BASE + i * SZ_4K, SZ_4K, 1);
	reset_gather(t);
	t->pages_mapped = false;
}

/* The pages after the last whole 256-page chunk. */
static void unmap_tail(struct table *t)
{
	for (int i = CHUNKS * CHUNK; i < PAGES; i++)
		core_unmap(t, PAGE_BASE + i * SZ_4K, SZ_4K, 1);
	reset_gather(t);
}

static void map_blocks(struct table *t)
{
	for (int b = 0; b < BLOCKS; b++) {
		int ret = core_map(t, BLOCK_BASE + b * SZ_2M, BLOCK_PA + b * SZ_2M, SZ_2M, 1);
		if (ret)
			die("set-up: map 2M block %d: ret %d", b, ret);
	}
	t->blocks_mapped = true;
}

static void unmap_blocks(struct table *t)
{
	for (int b = 0; b < BLOCKS; b++)
		core_unmap(t, BLOCK_BASE + b * SZ_2M, SZ_2M, 1);
	reset_gather(t);
	t->blocks_mapped = false;
}

/*
 * The format's part of allocating the domain: pt_iommu_<fmt>_init() with the driver's
 * configuration, the domain ops, and a check that the table has 4 levels.
 */
#ifdef KBENCH_FMT_X86_64
/* As intel_iommu_domain_alloc_first_stage() on a coherent IOMMU with 4-level first-stage paging. */
static void pt_init(struct table *t)
{
	struct pt_iommu_x86_64_cfg cfg = {
		.common.hw_max_vasz_lg2 = 48,
		.common.hw_max_oasz_lg2 = 52,
		.common.features = BIT(PT_FEAT_SIGN_EXTEND) | BIT(PT_FEAT_FLUSH_RANGE),
		.top_level = 3, /* 4 levels */
	};
	struct pt_iommu_x86_64_hw_info info;
	int ret = pt_iommu_x86_64_init(&t->pt, &cfg, GFP_KERNEL);

	if (ret)
		die("pt_iommu_x86_64_init() = %d", ret);
	t->pt.iommu.domain.ops = &x86_64_domain_ops;
	pt_iommu_x86_64_hw_info(&t->pt, &info);
	if (info.levels != 4)
		die("expected a 4-level table, got %u levels", info.levels);
}
#else
static void pt_init(struct table *t)
{
	struct pt_iommu_vtdss_cfg cfg = {
		.common.hw_max_vasz_lg2 = 48,
		.common.hw_max_oasz_lg2 = 52,
		.common.features = BIT(PT_FEAT_FLUSH_RANGE),
		.top_level = 3, /* 4 levels */
	};
	struct pt_iommu_vtdss_hw_info info;
	int ret = pt_iommu_vtdss_init(&t->pt, &cfg, GFP_KERNEL);

	if (ret)
		die("pt_iommu_vtdss_init() = %d", ret);
	t->pt.iommu.domain.ops = &vtdss_domain_ops;
	pt_iommu_vtdss_hw_info(&t->pt, &info);
	if (info.aw != 2)
		die("expected a 4-level table (aw 2), got aw %u", info.aw);
}
#endif

static struct table *table_new(enum op op)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		die("out of memory");
	t->op = op;
	t->pt.iommu.nid = NUMA_NO_NODE;
	pt_init(t);
	t->domain = &t->pt.iommu.domain;
	if ((t->domain->pgsize_bitmap & (SZ_4K | SZ_2M | SZ_1G)) != (SZ_4K | SZ_2M | SZ_1G))
		die("pgsize_bitmap %#lx lacks 4K/2M/1G", t->domain->pgsize_bitmap);
	iommu_iotlb_gather_init(&t->gather);
	/*
	 * Build every intermediate table once, leaving the leaves empty
	 * (unmapping page by page frees no table).
	 */
	map_pages_setup(t);
	unmap_pages_one_by_one(t);
	map_blocks(t);
	unmap_blocks(t);
	return t;
}

static void table_free(struct table *t)
{
	reset_gather(t);
	pt_iommu_deinit(&t->pt.iommu);
	free(t);
}

/* PageTableFixtures.Table.prepare(): put the leaves in the state the batch starts from. */
static void prepare(struct table *t)
{
	enum op op = t->op;

	reset_gather(t);
	if (t->blocks_mapped)
		unmap_blocks(t);
	if (OPS[op].needs_pages && !t->pages_mapped) {
		if (op == UNMAP_256X4K)
			unmap_tail(t); /* the last batch unmapped whole chunks only */
		map_pages_setup(t);
	} else if (!OPS[op].needs_pages && t->pages_mapped) {
		unmap_pages_one_by_one(t);
	}
	if (op == IOVA_TO_PHYS)
		return; /* the batch changes nothing */
	/* After this batch the leaves are in the opposite state. */
	t->pages_mapped = op == MAP_4K || op == MAP_256X4K;
	t->blocks_mapped = op == MAP_2M;
}

/* One timed batch; returns the sum of the calls' results. */
static u64 batch(struct table *t)
{
	u64 sum = 0;

	switch (t->op) {
	case MAP_4K:
		for (int i = 0; i < PAGES; i++)
			sum += core_map(t, PAGE_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, 1);
		break;
	case UNMAP_4K:
		for (int i = 0; i < PAGES; i++)
			sum += core_unmap(t, PAGE_BASE + i * SZ_4K, SZ_4K, 1);
		break;
	case MAP_256X4K:
		for (int c = 0; c < CHUNKS; c++) {
			u64 off = (u64)c * CHUNK * SZ_4K;

			sum += core_map(t, PAGE_BASE + off, PA_BASE + off, SZ_4K, CHUNK);
		}
		break;
	case UNMAP_256X4K:
		for (int c = 0; c < CHUNKS; c++)
			sum += core_unmap(t, PAGE_BASE + (u64)c * CHUNK * SZ_4K, SZ_4K, CHUNK);
		break;
	case MAP_2M:
		for (int b = 0; b < BLOCKS; b++)
			sum += core_map(t, BLOCK_BASE + b * SZ_2M, BLOCK_PA + b * SZ_2M, SZ_2M, 1);
		break;
	case IOVA_TO_PHYS:
		for (int i = 0; i < PAGES; i++)
			sum += core_iova_to_phys(t, PAGE_BASE + i * SZ_4K + IOVA_OFFSET);
		break;
	default:
		die("bad op %d", t->op);
	}
	return sum;
}

/* Outside the timing: did every call of the batch do what it should? */
static void check_batch(struct table *t, u64 sum, size_t mapped_before)
{
	u64 want = 0, want_mapped = 0;

	switch (t->op) {
	case MAP_4K: want_mapped = (u64)PAGES * SZ_4K; break;
	case UNMAP_4K: want = (u64)PAGES * SZ_4K; break;
	case MAP_256X4K: want_mapped = (u64)CHUNKS * CHUNK * SZ_4K; break;
	case UNMAP_256X4K: want = (u64)CHUNKS * CHUNK * SZ_4K; break;
	case MAP_2M: want_mapped = (u64)BLOCKS * SZ_2M; break;
	case IOVA_TO_PHYS:
		for (u64 i = 0; i < PAGES; i++)
			want += PA_BASE + i * SZ_4K + IOVA_OFFSET;
		break;
	default: break;
	}
	if (sum != want || t->mapped - mapped_before != want_mapped)
		die("%s batch: result sum %#llx (want %#llx), mapped %zu (want %llu)", OPS[t->op].id,
		    (unsigned long long)sum, (unsigned long long)want, t->mapped - mapped_before,
		    (unsigned long long)want_mapped);
	if (kshim_warn_count || kshim_pr_err_count)
		die("%s batch: %lu WARN_ON, %lu pr_err", OPS[t->op].id, kshim_warn_count,
		    kshim_pr_err_count);
}

/* ---- correctness, once before any timing ---- */

#ifdef KBENCH_FMT_X86_64
/*
 * Walk the x86-64 4-level table by hand (SDM layout: P bit 0, PS bit 7 in PDPTE/PDE,
 * address bits 51:12): level of the leaf for iova, or -1.
 */
static int leaf_level(struct table *t, u64 iova, u64 *entry_out)
{
	struct pt_iommu_x86_64_hw_info info;
	const u64 *table;

	pt_iommu_x86_64_hw_info(&t->pt, &info);
	table = (const u64 *)(uintptr_t)info.gcr3_pt;
	for (int level = info.levels - 1; level >= 0; level--) {
		u64 e = table[(iova >> (12 + 9 * level)) & 511];

		if (!(e & 1)) /* not present */
			return -1;
		if (level == 0 || (e & 0x80)) {
			*entry_out = e;
			return level;
		}
		table = (const u64 *)(uintptr_t)(e & 0x000ffffffffff000ULL);
	}
	return -1;
}
/* A writeable leaf: P|RW|U|A|D (x86_64's IOMMU_READ|IOMMU_WRITE), PS above level 0, no XD. */
#define LEAF_MASK 0x80000000000000e7ULL
#define LEAF_4K_RW 0x67ULL
#define LEAF_2M_RW 0xe7ULL
#define LEAF_4K_DESC "4K P|RW|U|A|D"
#define LEAF_2M_DESC "2M P|RW|U|A|D|PS"
#else
/* Walk the VT-d second-stage table by hand (spec layout): level of the leaf for iova, or -1. */
static int leaf_level(struct table *t, u64 iova, u64 *entry_out)
{
	struct pt_iommu_vtdss_hw_info info;
	const u64 *table;

	pt_iommu_vtdss_hw_info(&t->pt, &info);
	table = (const u64 *)(uintptr_t)info.ssptptr;
	for (int level = info.aw + 1; level >= 0; level--) {
		u64 e = table[(iova >> (12 + 9 * level)) & 511];

		if (!(e & 3)) /* neither R nor W: not present */
			return -1;
		if (level == 0 || (e & 0x80)) {
			*entry_out = e;
			return level;
		}
		table = (const u64 *)(uintptr_t)(e & 0x000ffffffffff000ULL);
	}
	return -1;
}
#define LEAF_MASK 0x83ULL
#define LEAF_4K_RW 0x3ULL
#define LEAF_2M_RW 0x83ULL
#define LEAF_4K_DESC "4K R|W"
#define LEAF_2M_DESC "2M R|W|PS"
#endif

static void check_correctness(void)
{
	struct table *t = table_new(IOVA_TO_PHYS);
	u64 e;

	if (kshim_pages_live != EXPECTED_TABLE_PAGES)
		die("fixture has %lu table pages, expected %d", kshim_pages_live, EXPECTED_TABLE_PAGES);

	map_pages_setup(t);
	for (u64 i = 0; i < PAGES; i++) {
		u64 iova = PAGE_BASE + i * SZ_4K + IOVA_OFFSET, want = PA_BASE + i * SZ_4K + IOVA_OFFSET;
		phys_addr_t got = core_iova_to_phys(t, iova);

		if (got != want)
			die("iova_to_phys(%#llx) = %#llx, want %#llx", (unsigned long long)iova,
			    (unsigned long long)got, (unsigned long long)want);
		if (leaf_level(t, iova, &e) != 0 || (e & LEAF_MASK) != LEAF_4K_RW)
			die("page %llu is not a " LEAF_4K_DESC " leaf (entry %#llx)", (unsigned long long)i,
			    (unsigned long long)e);
	}
	if (core_iova_to_phys(t, PAGE_BASE + PAGES * SZ_4K))
		die("iova_to_phys past the pages is not 0");
	for (u64 i = 0; i < PAGES; i++)
		if (core_unmap(t, PAGE_BASE + i * SZ_4K, SZ_4K, 1) != SZ_4K)
			die("unmap of page %llu did not return 4K", (unsigned long long)i);
	for (u64 i = 0; i < PAGES; i++)
		if (core_iova_to_phys(t, PAGE_BASE + i * SZ_4K))
			die("page %llu still translates after unmap", (unsigned long long)i);
	reset_gather(t);

	/* the single-page path of map-4k */
	t->mapped = 0;
	if (core_map(t, PAGE_BASE, PA_BASE, SZ_4K, 1) || t->mapped != SZ_4K ||
	    core_iova_to_phys(t, PAGE_BASE + IOVA_OFFSET) != PA_BASE + IOVA_OFFSET)
		die("single 4K map");
	if (core_unmap(t, PAGE_BASE, SZ_4K, 1) != SZ_4K)
		die("single 4K unmap");

	/* one 256-page chunk */
	t->mapped = 0;
	if (core_map(t, PAGE_BASE, PA_BASE, SZ_4K, CHUNK) || t->mapped != CHUNK * SZ_4K ||
	    core_iova_to_phys(t, PAGE_BASE + (CHUNK - 1) * SZ_4K) != PA_BASE + (CHUNK - 1) * SZ_4K)
		die("256 x 4K map");
	if (core_unmap(t, PAGE_BASE, SZ_4K, CHUNK) != CHUNK * SZ_4K)
		die("256 x 4K unmap");

	/* 2M leaves */
	map_blocks(t);
	for (u64 b = 0; b < BLOCKS; b++) {
		u64 iova = BLOCK_BASE + b * SZ_2M + 0x12345, want = BLOCK_PA + b * SZ_2M + 0x12345;

		if (core_iova_to_phys(t, iova) != want)
			die("iova_to_phys of 2M block %llu", (unsigned long long)b);
		if (leaf_level(t, iova, &e) != 1 || (e & LEAF_MASK) != LEAF_2M_RW)
			die("block %llu is not a " LEAF_2M_DESC " leaf (entry %#llx)", (unsigned long long)b,
			    (unsigned long long)e);
	}
	for (u64 b = 0; b < BLOCKS; b++)
		if (core_unmap(t, BLOCK_BASE + b * SZ_2M, SZ_2M, 1) != SZ_2M)
			die("unmap of 2M block %llu", (unsigned long long)b);
	reset_gather(t);
	t->blocks_mapped = false;

	if (kshim_pages_live != EXPECTED_TABLE_PAGES)
		die("table pages changed to %lu (expected %d)", kshim_pages_live, EXPECTED_TABLE_PAGES);
	if (kshim_warn_count || kshim_pr_err_count)
		die("%lu WARN_ON, %lu pr_err during the correctness check", kshim_warn_count,
		    kshim_pr_err_count);
	table_free(t);
	if (kshim_pages_live)
		die("%lu table pages left after deinit", kshim_pages_live);
	printf("correctness: OK (100000 4K leaves + 2048 2M leaves translate; %d table pages; 0 WARN)\n",
	       EXPECTED_TABLE_PAGES);
}

/* ---- timing, as jiommu's Harness ---- */

struct budget {
	int warmup;
	int measured;
	int iter_ms; /* 0: exactly one batch per iteration */
	bool cpu_clock;
};

static u64 now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/*
 * Timed batches until iter_ms of timed work (at least one batch); the untimed
 * prepare steps count only against a wall-clock cap of four times that.
 * Both clocks are read around each batch; the loop runs on the chosen one.
 */
static void iteration(struct table *t, const struct budget *b, double *wall_ns_per_call,
		      double *cpu_ns_per_call, int *batches)
{
	u64 iter_ns = (u64)b->iter_ms * 1000000ULL;
	u64 wall_end = now_ns(CLOCK_MONOTONIC) + 4 * iter_ns;
	u64 wall = 0, cpu = 0, ops = 0, acc = 0;
	int n = 0;

	do {
		size_t mapped_before;
		u64 c0, w0, w1, c1, s;

		prepare(t);
		mapped_before = t->mapped;
		c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
		w0 = now_ns(CLOCK_MONOTONIC);
		s = batch(t);
		w1 = now_ns(CLOCK_MONOTONIC);
		c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
		check_batch(t, s, mapped_before);
		acc += s;
		wall += w1 - w0;
		cpu += c1 - c0;
		ops += OPS[t->op].ops;
		n++;
	} while ((b->cpu_clock ? cpu : wall) < iter_ns && now_ns(CLOCK_MONOTONIC) < wall_end);
	sink ^= acc;
	*wall_ns_per_call = (double)(wall ? wall : 1) / ops;
	*cpu_ns_per_call = (double)(cpu ? cpu : 1) / ops;
	*batches = n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void run_case(enum op op, const struct budget *b)
{
	struct table *t = table_new(op);
	double *wall = calloc(b->measured, sizeof(double));
	double *cpu = calloc(b->measured, sizeof(double));
	double w, c;
	int batches, total = 0;

	if (!wall || !cpu)
		die("out of memory");
	for (int i = 0; i < b->warmup; i++)
		iteration(t, b, &w, &c, &batches);
	for (int i = 0; i < b->measured; i++) {
		iteration(t, b, &wall[i], &cpu[i], &batches);
		total += batches;
	}
	if (kshim_warn_count || kshim_pr_err_count)
		die("%s: %lu WARN_ON, %lu pr_err", OPS[op].id, kshim_warn_count, kshim_pr_err_count);
	table_free(t);
	{
		double wm = median(wall, b->measured), cm = median(cpu, b->measured);

		printf(GROUP "%-13s %7d %9.1f [%7.1f .. %7.1f] %9.1f [%7.1f .. %7.1f] %6d\n", OPS[op].id,
		       OPS[op].ops, wm, wall[0], wall[b->measured - 1], cm, cpu[0],
		       cpu[b->measured - 1], total);
	}
	fflush(stdout);
	free(wall);
	free(cpu);
}

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench [--cases LIST] [--warmup N] [--measured N] [--iter-ms MS]\n"
		"             [--quick] [--cpu-clock] [--no-fork] [--list]\n"
		"  --cases LIST  comma-separated, e.g. map-4k," GROUP "unmap-4k (default: all six; also --case)\n"
		"  --warmup N    warm-up iterations, not recorded (default 5, as jiommu bench)\n"
		"  --measured N  measured iterations (default 10; also --iterations)\n"
		"  --iter-ms MS  timed work per iteration, >= 1 batch; 0 = one batch (default 500)\n"
		"  --quick       2 warm-up, 5 measured, 100 ms (as jiommu bench --quick)\n"
		"  --cpu-clock   iterations end on thread CPU time instead of wall time\n"
		"  --no-fork     run every case in this process (default: a child process per\n"
		"                case, as jiommu forks a JVM per case)\n");
}

static int parse_int(const char *s, const char *opt, int min_value)
{
	char *end;
	long v = strtol(s ? s : "", &end, 10);

	if (!s || *end || v < min_value || v > 1000000)
		die("bad value for %s: %s", opt, s ? s : "(missing)");
	return (int)v;
}

static int op_by_name(const char *name)
{
	if (!strncmp(name, GROUP, strlen(GROUP)))
		name += strlen(GROUP);
	for (int i = 0; i < NR_OPS; i++)
		if (!strcmp(name, OPS[i].id))
			return i;
	return -1;
}

int main(int argc, char **argv)
{
	struct budget b = { .warmup = 5, .measured = 10, .iter_ms = 500, .cpu_clock = false };
	bool selected[NR_OPS] = { false }, any = false, fork_cases = true;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--cases") || !strcmp(a, "--case")) {
			char *list = strdup(i + 1 < argc ? argv[++i] : "");

			for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
				int op;

				if (!strcmp(tok, "all")) {
					for (int k = 0; k < NR_OPS; k++)
						selected[k] = true;
					any = true;
					continue;
				}
				op = op_by_name(tok);
				if (op < 0)
					die("no case %s (try --list)", tok);
				selected[op] = true;
				any = true;
			}
			free(list);
		} else if (!strcmp(a, "--warmup")) {
			b.warmup = parse_int(i + 1 < argc ? argv[++i] : NULL, a, 0);
		} else if (!strcmp(a, "--measured") || !strcmp(a, "--iterations")) {
			b.measured = parse_int(i + 1 < argc ? argv[++i] : NULL, a, 1);
		} else if (!strcmp(a, "--iter-ms")) {
			b.iter_ms = parse_int(i + 1 < argc ? argv[++i] : NULL, a, 0);
		} else if (!strcmp(a, "--quick")) {
			b.warmup = 2;
			b.measured = 5;
			b.iter_ms = 100;
		} else if (!strcmp(a, "--cpu-clock")) {
			b.cpu_clock = true;
		} else if (!strcmp(a, "--no-fork")) {
			fork_cases = false;
		} else if (!strcmp(a, "--list")) {
			for (int k = 0; k < NR_OPS; k++)
				printf(GROUP "%-13s %s\n", OPS[k].id, OPS[k].what);
			return 0;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			die("unknown argument %s", a);
		}
	}
	if (!any)
		for (int k = 0; k < NR_OPS; k++)
			selected[k] = true;

	printf("generic_pt " FMT_DESC "%s\n", IS_ENABLED(CONFIG_DEBUG_GENERIC_PT) ? " [CONFIG_DEBUG_GENERIC_PT: not for timing]" : "");
	if (b.iter_ms)
		printf("budget: %d warm-up + %d measured iterations of >= %d ms timed work",
		       b.warmup, b.measured, b.iter_ms);
	else
		printf("budget: %d warm-up + %d measured iterations of one batch", b.warmup,
		       b.measured);
	printf(", loop clock %s, %s\n", b.cpu_clock ? "thread CPU" : "wall",
	       fork_cases ? "one child process per case" : "one process");
	{
		/* what one clock read costs: the CPU figure of a batch carries about one */
		u64 t0 = now_ns(CLOCK_MONOTONIC), c0, c1;

		for (int i = 0; i < 1000; i++)
			sink ^= now_ns(CLOCK_MONOTONIC);
		c0 = now_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < 1000; i++)
			sink ^= now_ns(CLOCK_THREAD_CPUTIME_ID);
		c1 = now_ns(CLOCK_MONOTONIC);
		printf("clock read: CLOCK_MONOTONIC %.0f ns, CLOCK_THREAD_CPUTIME_ID %.0f ns\n",
		       (c0 - t0) / 1000.0, (c1 - c0) / 1000.0);
	}
	check_correctness();
	printf("%-20s %7s %9s %-20s %9s %-20s %6s\n", "case", "calls", "wall", "ns/call [min .. max]",
	       "cpu", "ns/call [min .. max]", "batches");
	fflush(stdout);

	for (int k = 0; k < NR_OPS; k++) {
		if (!selected[k])
			continue;
		if (!fork_cases) {
			run_case(k, &b);
			continue;
		}
		pid_t pid = fork();
		int status;

		if (pid < 0)
			die("fork failed");
		if (pid == 0) {
			run_case(k, &b);
			exit(0);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("case %s failed (child status %#x)", OPS[k].id, status);
	}
	return 0;
}
