/*
 * kbench (own code): times the kernel's io-pgtable-arm.c, compiled unmodified in user space
 * against the shim headers, on the cases of jiommu's `jiommu bench` for arm-lpae-s1
 * (src/main/java/org/jiommu/bench/PageTableFixtures.java, Harness.java, Budget.java).
 *
 * The table is made by the kernel's alloc_io_pgtable_ops(ARM_64_LPAE_S1, ...) (io-pgtable.c,
 * also unmodified) and every operation goes through the io_pgtable_ops function pointers it
 * returns (map_pages, unmap_pages, iova_to_phys), as a driver calls it.
 *
 * Method (as jiommu's Harness): one fresh table per case with its intermediate tables built
 * before any timing; warm-up iterations (thrown away), then measured iterations; an iteration
 * is whole batches, each preceded by an untimed prepare, until the timed part reaches the
 * iteration time (at least one batch; the untimed part only counts against a wall-clock cap of
 * 4x); the figure of an iteration is timed ns / calls. Median, min and max over the measured
 * iterations, on the wall clock (CLOCK_MONOTONIC) and on the thread CPU clock
 * (CLOCK_THREAD_CPUTIME_ID) at once; --clock chooses which one ends an iteration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/io-pgtable.h>	/* the kernel's header (from the source dir), over the shims */
#include <linux/sizes.h>
#include <linux/slab.h>
#include "kbench_shim.h"

#ifndef KBENCH_SRC_DESC
#define KBENCH_SRC_DESC "unknown"
#endif
#ifndef KBENCH_KCFLAGS
#define KBENCH_KCFLAGS "unknown"
#endif
#ifdef KBENCH_WMB_SFENCE
#define KBENCH_WMB_DESC "wmb()=sfence (x86-64 kernel's), dma_wmb()=compiler barrier"
#else
#define KBENCH_WMB_DESC "wmb()=compiler barrier, dma_wmb()=compiler barrier"
#endif

#include "../cases.h"

#define K4		((unsigned long)SZ_4K)
#define M2		((unsigned long)SZ_2M)
#define PROT_RW		(IOMMU_READ | IOMMU_WRITE)

#define FORMAT_ID "arm-lpae-s1"

static volatile unsigned long sink;	/* every batch's result ends up here */

static void fail(const char *what, unsigned long a, unsigned long b)
{
	fprintf(stderr, "kbench: CHECK FAILED: %s (got 0x%lx, want 0x%lx)\n", what, a, b);
	exit(3);
}

#define CHECK(cond, what, got, want) do { if (!(cond)) fail(what, (unsigned long)(got), (unsigned long)(want)); } while (0)

/* TLB maintenance that does nothing (jiommu's TlbOps.NONE). */
static void noop_tlb_flush_all(void *cookie) { (void)cookie; }
static void noop_tlb_flush_walk(unsigned long iova, size_t size, size_t granule, void *cookie)
{
	(void)iova; (void)size; (void)granule; (void)cookie;
}
static void noop_tlb_add_page(struct iommu_iotlb_gather *gather, unsigned long iova, size_t granule,
			      void *cookie)
{
	(void)gather; (void)iova; (void)granule; (void)cookie;
}

static const struct iommu_flush_ops noop_tlb = {
	.tlb_flush_all = noop_tlb_flush_all,
	.tlb_flush_walk = noop_tlb_flush_walk,
	.tlb_add_page = noop_tlb_add_page,
};

static struct device bench_dev = { .numa_node = NUMA_NO_NODE, .name = "kbench-smmu" };

/* One table measured for one operation (PageTableFixtures.Table). */
struct table {
	enum op op;
	struct io_pgtable_ops *ops;
	struct io_pgtable_cfg cfg;
	size_t mapped;		/* map calls add what they mapped here */
	bool pages_mapped;	/* what the leaves hold now */
	bool blocks_mapped;
};

static struct io_pgtable_ops *new_ops(struct io_pgtable_cfg *cfg)
{
	struct io_pgtable_ops *ops;

	memset(cfg, 0, sizeof(*cfg));
	cfg->pgsize_bitmap = SZ_4K | SZ_2M | SZ_1G;
	cfg->ias = 48;
	cfg->oas = 48;
	cfg->quirks = IO_PGTABLE_QUIRK_NO_WARN;
	cfg->coherent_walk = true;
	cfg->tlb = &noop_tlb;
	cfg->iommu_dev = &bench_dev;
	ops = alloc_io_pgtable_ops(ARM_64_LPAE_S1, cfg, cfg);
	CHECK(ops, "alloc_io_pgtable_ops(ARM_64_LPAE_S1)", 0, 1);
	CHECK(cfg->pgsize_bitmap == (SZ_4K | SZ_2M | SZ_1G), "pgsize_bitmap after alloc",
	      cfg->pgsize_bitmap, SZ_4K | SZ_2M | SZ_1G);
	return ops;
}

static void map_pages_setup(struct table *t)
{
	for (int i = 0; i < PAGES; i += 512) {
		size_t n = PAGES - i < 512 ? PAGES - i : 512;
		size_t mapped = 0;
		int ret = t->ops->map_pages(t->ops, PAGE_BASE + i * K4, PA_BASE + i * K4, K4, n,
					    PROT_RW, GFP_KERNEL, &mapped);

		CHECK(ret == 0, "map 4K pages (set-up)", ret, 0);
		CHECK(mapped == n * K4, "map 4K pages: bytes mapped (set-up)", mapped, n * K4);
	}
	t->pages_mapped = true;
}

/* Page by page, holes allowed (a 256-page batch leaves the tail of the range unmapped). */
static void unmap_pages_one_by_one(struct table *t)
{
	for (int i = 0; i < PAGES; i++)
		t->ops->unmap_pages(t->ops, PAGE_BASE + i * K4, K4, 1, NULL);
	t->pages_mapped = false;
}

/* The pages after the last whole 256-page chunk. */
static void unmap_tail(struct table *t)
{
	for (int i = CHUNKS * CHUNK; i < PAGES; i++)
		t->ops->unmap_pages(t->ops, PAGE_BASE + i * K4, K4, 1, NULL);
}

static void map_blocks(struct table *t)
{
	for (int b = 0; b < BLOCKS; b++) {
		size_t mapped = 0;
		int ret = t->ops->map_pages(t->ops, BLOCK_BASE + b * M2, BLOCK_PA + b * M2, M2, 1,
					    PROT_RW, GFP_KERNEL, &mapped);

		CHECK(ret == 0, "map 2M (set-up)", ret, 0);
	}
	t->blocks_mapped = true;
}

static void unmap_blocks(struct table *t)
{
	for (int b = 0; b < BLOCKS; b++)
		t->ops->unmap_pages(t->ops, BLOCK_BASE + b * M2, M2, 1, NULL);
	t->blocks_mapped = false;
}

static void table_init(struct table *t, enum op op)
{
	memset(t, 0, sizeof(*t));
	t->op = op;
	t->ops = new_ops(&t->cfg);
	/* Build every intermediate table once, leaving the leaves empty. */
	map_pages_setup(t);
	unmap_pages_one_by_one(t);
	map_blocks(t);
	unmap_blocks(t);
}

static void table_free(struct table *t)
{
	free_io_pgtable_ops(t->ops);
	t->ops = NULL;
}

/* Restores the state the next batch needs (untimed), as PageTableFixtures.Table.prepare. */
static void table_prepare(struct table *t)
{
	bool needs_pages = OPS[t->op].needs_pages;

	if (t->blocks_mapped)
		unmap_blocks(t);
	if (needs_pages && !t->pages_mapped) {
		if (t->op == UNMAP_256X4K)
			unmap_tail(t);	/* the last batch unmapped whole chunks only */
		map_pages_setup(t);
	} else if (!needs_pages && t->pages_mapped) {
		unmap_pages_one_by_one(t);
	}
	t->mapped = 0;
	if (t->op == IOVA_TO_PHYS)
		return;		/* the batch changes nothing */
	/* After this batch the leaves are in the opposite state. */
	t->pages_mapped = t->op == MAP_4K || t->op == MAP_256X4K;
	t->blocks_mapped = t->op == MAP_2M;
}

/* The timed work: the sum of every call's return value. */
static __attribute__((noinline)) unsigned long table_batch(struct table *t)
{
	struct io_pgtable_ops *ops = t->ops;
	unsigned long sum = 0;

	switch (t->op) {
	case MAP_4K:
		for (unsigned long i = 0; i < PAGES; i++)
			sum += ops->map_pages(ops, PAGE_BASE + i * K4, PA_BASE + i * K4, K4, 1,
					      PROT_RW, GFP_KERNEL, &t->mapped);
		break;
	case UNMAP_4K:
		for (unsigned long i = 0; i < PAGES; i++)
			sum += ops->unmap_pages(ops, PAGE_BASE + i * K4, K4, 1, NULL);
		break;
	case MAP_256X4K:
		for (unsigned long c = 0; c < CHUNKS; c++) {
			unsigned long off = c * CHUNK * K4;

			sum += ops->map_pages(ops, PAGE_BASE + off, PA_BASE + off, K4, CHUNK,
					      PROT_RW, GFP_KERNEL, &t->mapped);
		}
		break;
	case UNMAP_256X4K:
		for (unsigned long c = 0; c < CHUNKS; c++)
			sum += ops->unmap_pages(ops, PAGE_BASE + c * CHUNK * K4, K4, CHUNK, NULL);
		break;
	case MAP_2M:
		for (unsigned long b = 0; b < BLOCKS; b++)
			sum += ops->map_pages(ops, BLOCK_BASE + b * M2, BLOCK_PA + b * M2, M2, 1,
					      PROT_RW, GFP_KERNEL, &t->mapped);
		break;
	case IOVA_TO_PHYS:
		for (unsigned long i = 0; i < PAGES; i++)
			sum += ops->iova_to_phys(ops, PAGE_BASE + i * K4 + IOVA_OFFSET);
		break;
	default:
		abort();
	}
	return sum;
}

/* What a correct batch returns (summed) and maps; checked after every batch, untimed. */
static void check_batch(const struct table *t, unsigned long sum)
{
	unsigned long want_sum = 0, want_mapped = 0;

	switch (t->op) {
	case MAP_4K:
		want_mapped = PAGES * K4;
		break;
	case UNMAP_4K:
		want_sum = PAGES * K4;
		break;
	case MAP_256X4K:
		want_mapped = (unsigned long)CHUNKS * CHUNK * K4;
		break;
	case UNMAP_256X4K:
		want_sum = (unsigned long)CHUNKS * CHUNK * K4;
		break;
	case MAP_2M:
		want_mapped = BLOCKS * M2;
		break;
	case IOVA_TO_PHYS:
		for (unsigned long i = 0; i < PAGES; i++)
			want_sum += PA_BASE + i * K4 + IOVA_OFFSET;
		break;
	default:
		abort();
	}
	CHECK(sum == want_sum, OPS[t->op].id, sum, want_sum);
	CHECK(t->mapped == want_mapped, "bytes mapped by the batch", t->mapped, want_mapped);
}

/*
 * Once per run, before any timing, on a fresh table built as the fixture builds it: every kind
 * of call returns 0 / the right size and translates to the right address, and a full
 * map / translate / unmap of the 100 000 pages is exact.
 */
static void self_check(void)
{
	struct table t;
	struct io_pgtable_ops *ops;
	size_t mapped;
	int ret;
	size_t un;

	table_init(&t, MAP_4K);
	ops = t.ops;
	CHECK(ops->iova_to_phys(ops, PAGE_BASE + IOVA_OFFSET) == 0, "empty leaf translates", 1, 0);

	mapped = 0;
	ret = ops->map_pages(ops, PAGE_BASE, PA_BASE, K4, 1, PROT_RW, GFP_KERNEL, &mapped);
	CHECK(ret == 0, "map one 4K page", ret, 0);
	CHECK(mapped == K4, "one 4K page mapped", mapped, K4);
	CHECK(ops->iova_to_phys(ops, PAGE_BASE + IOVA_OFFSET) == PA_BASE + IOVA_OFFSET, "4K translation",
	      ops->iova_to_phys(ops, PAGE_BASE + IOVA_OFFSET), PA_BASE + IOVA_OFFSET);
	ret = ops->map_pages(ops, PAGE_BASE, PA_BASE, K4, 1, PROT_RW, GFP_KERNEL, &mapped);
	CHECK(ret == -EEXIST, "map over a mapped page fails (-EEXIST)", ret, -EEXIST);
	un = ops->unmap_pages(ops, PAGE_BASE, K4, 1, NULL);
	CHECK(un == K4, "unmap one 4K page", un, K4);
	CHECK(ops->iova_to_phys(ops, PAGE_BASE + IOVA_OFFSET) == 0, "unmapped page translates", 1, 0);

	mapped = 0;
	ret = ops->map_pages(ops, PAGE_BASE + CHUNK * K4, PA_BASE + CHUNK * K4, K4, CHUNK, PROT_RW,
			     GFP_KERNEL, &mapped);
	CHECK(ret == 0, "map 256 x 4K", ret, 0);
	CHECK(mapped == CHUNK * K4, "256 x 4K mapped", mapped, CHUNK * K4);
	for (unsigned long i = CHUNK; i < 2 * CHUNK; i++)
		CHECK(ops->iova_to_phys(ops, PAGE_BASE + i * K4 + IOVA_OFFSET) == PA_BASE + i * K4 + IOVA_OFFSET,
		      "256 x 4K translation", ops->iova_to_phys(ops, PAGE_BASE + i * K4 + IOVA_OFFSET),
		      PA_BASE + i * K4 + IOVA_OFFSET);
	un = ops->unmap_pages(ops, PAGE_BASE + CHUNK * K4, K4, CHUNK, NULL);
	CHECK(un == CHUNK * K4, "unmap 256 x 4K", un, CHUNK * K4);

	mapped = 0;
	ret = ops->map_pages(ops, BLOCK_BASE + 7 * M2, BLOCK_PA + 7 * M2, M2, 1, PROT_RW, GFP_KERNEL, &mapped);
	CHECK(ret == 0, "map one 2M leaf", ret, 0);
	CHECK(mapped == M2, "2M mapped", mapped, M2);
	CHECK(ops->iova_to_phys(ops, BLOCK_BASE + 7 * M2 + 0x12345) == BLOCK_PA + 7 * M2 + 0x12345,
	      "2M translation", ops->iova_to_phys(ops, BLOCK_BASE + 7 * M2 + 0x12345),
	      BLOCK_PA + 7 * M2 + 0x12345);
	un = ops->unmap_pages(ops, BLOCK_BASE + 7 * M2, M2, 1, NULL);
	CHECK(un == M2, "unmap one 2M leaf", un, M2);

	map_pages_setup(&t);
	for (unsigned long i = 0; i < PAGES; i++)
		CHECK(ops->iova_to_phys(ops, PAGE_BASE + i * K4 + IOVA_OFFSET) == PA_BASE + i * K4 + IOVA_OFFSET,
		      "translation of every mapped page", ops->iova_to_phys(ops, PAGE_BASE + i * K4 + IOVA_OFFSET),
		      PA_BASE + i * K4 + IOVA_OFFSET);
	for (unsigned long i = 0; i < PAGES; i++) {
		un = ops->unmap_pages(ops, PAGE_BASE + i * K4, K4, 1, NULL);
		CHECK(un == K4, "unmap of every mapped page", un, K4);
	}
	CHECK(ops->iova_to_phys(ops, PAGE_BASE + (PAGES - 1) * K4) == 0, "all unmapped", 1, 0);
	table_free(&t);
	CHECK(kbench_counters.page_allocs == kbench_counters.page_frees, "table pages all freed",
	      kbench_counters.page_frees, kbench_counters.page_allocs);
	CHECK(kbench_counters.warnings == 0, "no WARN_ON fired in the self-check", kbench_counters.warnings, 0);
	CHECK(kbench_counters.dma_calls == 0 && kbench_counters.incoherent_calls == 0,
	      "no DMA-sync / incoherent-page call (coherent walk)",
	      kbench_counters.dma_calls + kbench_counters.incoherent_calls, 0);
}

static unsigned long long now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

struct iteration {
	unsigned long long wall_ns, cpu_ns;	/* timed part only */
	unsigned long ops, batches;
};

/* Timed batches until iter_ns of the chosen clock (at least one batch; wall cap 4 x iter_ns). */
static void run_iteration(struct table *t, unsigned long long iter_ns, bool cpu_clock, struct iteration *it)
{
	unsigned long long wall_end = now_ns(CLOCK_MONOTONIC) + 4 * iter_ns;
	unsigned long acc = 0;

	memset(it, 0, sizeof(*it));
	do {
		unsigned long long c0, w0, w1, c1;
		unsigned long sum;

		table_prepare(t);
		c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
		w0 = now_ns(CLOCK_MONOTONIC);
		sum = table_batch(t);
		w1 = now_ns(CLOCK_MONOTONIC);
		c1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
		check_batch(t, sum);
		acc ^= sum + t->mapped;
		it->wall_ns += w1 - w0;
		it->cpu_ns += c1 - c0;
		it->ops += OPS[t->op].ops;
		it->batches++;
	} while ((cpu_clock ? it->cpu_ns : it->wall_ns) < iter_ns && now_ns(CLOCK_MONOTONIC) < wall_end);
	sink ^= acc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double median, min, max;
};

static struct stats stats_of(double *v, int n)
{
	struct stats s;

	qsort(v, n, sizeof(*v), cmp_double);
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

struct options {
	int warmup, measured, iter_ms;
	bool cpu_clock, json, check;
	bool selected[NR_OPS];
};

static void read_loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(buf, len, "?");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

static void run_case(enum op op, const struct options *o)
{
	struct table t;
	struct iteration it;
	double *wall = calloc(o->measured, sizeof(double));
	double *cpu = calloc(o->measured, sizeof(double));
	unsigned long batches = 0, calls = 0;
	unsigned long long iter_ns = (unsigned long long)o->iter_ms * 1000000ULL;
	unsigned long warn0 = kbench_counters.warnings;
	struct stats sw, sc;
	char load[128];

	if (!wall || !cpu)
		abort();
	table_init(&t, op);
	for (int i = 0; i < o->warmup; i++)
		run_iteration(&t, iter_ns, o->cpu_clock, &it);
	for (int i = 0; i < o->measured; i++) {
		run_iteration(&t, iter_ns, o->cpu_clock, &it);
		wall[i] = (double)it.wall_ns / it.ops;
		cpu[i] = (double)it.cpu_ns / it.ops;
		batches += it.batches;
		calls += it.ops;
	}
	table_free(&t);
	CHECK(kbench_counters.dma_calls == 0 && kbench_counters.incoherent_calls == 0,
	      "no DMA-sync / incoherent-page call (coherent walk)",
	      kbench_counters.dma_calls + kbench_counters.incoherent_calls, 0);

	if (o->json) {
		printf("{\"name\":\"%s/%s\",\"unit\":\"NS_PER_OP\",\"operations\":%lu,\"batches\":%lu,\"wall\":[",
		       FORMAT_ID, OPS[op].id, calls, batches);
		for (int i = 0; i < o->measured; i++)
			printf("%s%.3f", i ? "," : "", wall[i]);
		printf("],\"cpu\":[");
		for (int i = 0; i < o->measured; i++)
			printf("%s%.3f", i ? "," : "", cpu[i]);
		printf("],\"warnings\":%lu}\n", kbench_counters.warnings - warn0);
	}
	sw = stats_of(wall, o->measured);
	sc = stats_of(cpu, o->measured);
	read_loadavg(load, sizeof(load));
	printf("%-27s %7.1f (%6.1f-%6.1f)  %7.1f (%6.1f-%6.1f)  %6d %7lu  %lu  [load %s]\n",
	       OPS[op].id, sw.median, sw.min, sw.max, sc.median, sc.min, sc.max, OPS[op].ops, batches,
	       kbench_counters.warnings - warn0, load);
	fflush(stdout);
	free(wall);
	free(cpu);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench [options]\n"
		"  --case(s) NAME[,NAME...] cases to run (repeatable; default all):");
	for (int i = 0; i < NR_OPS; i++)
		fprintf(f, " %s", OPS[i].id);
	fprintf(f, "\n"
		"                         (\"" FORMAT_ID "/\" prefix accepted)\n"
		"  --warmup N             warm-up iterations, not recorded (default 5)\n"
		"  --iterations N         measured iterations (default 10; also --measured)\n"
		"  --iter-ms MS           timed ms per iteration, >= 1 batch (default 500; 0 = one batch)\n"
		"  --quick                2 warm-up, 5 measured, 100 ms (jiommu bench --quick)\n"
		"  --clock wall|cpu       clock that ends an iteration (default wall; both are reported)\n"
		"  --json                 also print each case's iterations as one JSON line\n"
		"  --no-check             skip the start-of-run self-check (per-batch checks stay)\n"
		"  --list                 list the cases\n");
}

static int parse_int(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0 || v > 1000000) {
		fprintf(stderr, "bad %s: %s\n", what, s);
		exit(2);
	}
	return (int)v;
}

static void select_cases(struct options *o, const char *arg)
{
	char *dup = strdup(arg), *save = NULL;

	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const char *name = tok;
		int found = 0;

		if (!strncmp(name, FORMAT_ID "/", strlen(FORMAT_ID) + 1))
			name += strlen(FORMAT_ID) + 1;
		for (int i = 0; i < NR_OPS; i++) {
			if (!strcmp(name, OPS[i].id) || !strcmp(name, "all")) {
				o->selected[i] = true;
				found = 1;
			}
		}
		if (!found) {
			fprintf(stderr, "no case %s\n", tok);
			usage(stderr);
			exit(2);
		}
	}
	free(dup);
}

int main(int argc, char **argv)
{
	struct options o = { .warmup = 5, .measured = 10, .iter_ms = 500, .check = true };
	bool any = false;
	char load[128];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if ((!strcmp(a, "--case") || !strcmp(a, "--cases")) && v) {
			select_cases(&o, v);
			i++;
		} else if (!strcmp(a, "--warmup") && v) {
			o.warmup = parse_int(v, "--warmup");
			i++;
		} else if ((!strcmp(a, "--iterations") || !strcmp(a, "--measured")) && v) {
			o.measured = parse_int(v, "--iterations");
			i++;
		} else if (!strcmp(a, "--iter-ms") && v) {
			o.iter_ms = parse_int(v, "--iter-ms");
			i++;
		} else if (!strcmp(a, "--clock") && v) {
			if (strcmp(v, "wall") && strcmp(v, "cpu")) {
				fprintf(stderr, "--clock wall|cpu\n");
				return 2;
			}
			o.cpu_clock = !strcmp(v, "cpu");
			i++;
		} else if (!strcmp(a, "--quick")) {
			o.warmup = 2;
			o.measured = 5;
			o.iter_ms = 100;
		} else if (!strcmp(a, "--json")) {
			o.json = true;
		} else if (!strcmp(a, "--no-check")) {
			o.check = false;
		} else if (!strcmp(a, "--list")) {
			for (int k = 0; k < NR_OPS; k++)
				printf("%s/%s\t%s (%d calls a batch)\n", FORMAT_ID, OPS[k].id, OPS[k].what, OPS[k].ops);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "unknown or incomplete option: %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (o.measured < 1) {
		fprintf(stderr, "--iterations must be >= 1\n");
		return 2;
	}
	for (int i = 0; i < NR_OPS; i++)
		any |= o.selected[i];
	if (!any)
		for (int i = 0; i < NR_OPS; i++)
			o.selected[i] = true;

	read_loadavg(load, sizeof(load));
	printf("kbench io-pgtable-arm: %s\n", KBENCH_SRC_DESC);
	printf("  gcc %s, kernel files: %s\n", __VERSION__, KBENCH_KCFLAGS);
	printf("  %s; WARN_ON counts, prints nothing; table pages: aligned_alloc+memset\n", KBENCH_WMB_DESC);
	printf("  ARM_64_LPAE_S1 4K|2M|1G ias 48 oas 48, QUIRK_NO_WARN, coherent walk, no-op TLB ops, gather NULL\n");
	printf("  %d warm-up + %d measured iterations of >= %d ms timed (%s clock ends an iteration); load %s\n",
	       o.warmup, o.measured, o.iter_ms, o.cpu_clock ? "thread CPU" : "wall", load);
	if (o.check) {
		self_check();
		printf("  self-check passed (map/unmap/iova_to_phys of 4K, 256x4K, 2M; all 100000 pages)\n");
	}
	printf("%-27s %-25s  %-25s  %6s %7s  %s\n", FORMAT_ID " case", "wall ns/call med (min-max)",
	       "cpu ns/call med (min-max)", "calls", "batches", "warns");
	for (int i = 0; i < NR_OPS; i++)
		if (o.selected[i])
			run_case((enum op)i, &o);
	if (kbench_counters.warnings)
		printf("WARNING: %lu WARN_ON fired (first at %s:%d)\n", kbench_counters.warnings,
		       kbench_counters.first_warning_file, kbench_counters.first_warning_line);
	return 0;
}
