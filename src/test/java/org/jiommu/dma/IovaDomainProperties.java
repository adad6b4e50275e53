package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The IOVA allocator (iova.c) against a reference interval set: random allocations of mixed
 * sizes under mixed limits (DMA masks), through the tree ({@code alloc_iova}) and through the
 * per-CPU caches ({@code alloc_iova_fast}, sizes rounded as {@code iommu_dma_alloc_iova} rounds
 * them), frees of random live ranges, over a space with random reserved ranges. Every
 * allocation is inside its limit, at or above the start pfn, size-aligned, and overlaps no live,
 * cached or reserved range; an allocation fails only when the reference set has no aligned gap
 * for it (the tree walk and its cached-node restart are complete); the caches hold exactly the
 * ranges freed into them; and once everything is freed and the caches flushed only the reserved
 * ranges are left.
 */
class IovaDomainProperties {
    static final long START_PFN = 1;
    static final long[] LIMITS = {0x3ff, 0xfff, 0x3fff, (1L << 20) - 1, (1L << 20) + 0x7ff};

    /** kind 0: tree alloc, 1: cached alloc, 2: free (tree or cache, by {@code fast}). */
    record Op(int kind, long size, int limit, int cpu, int pick, boolean fast) {
    }

    record Resv(long lo, long len) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Long> size = Arbitraries.oneOf(Arbitraries.longs().between(1, 40), Arbitraries.longs().between(1, 6),
                Arbitraries.longs().between(33, 300));
        return Combinators.combine(Arbitraries.of(0, 1, 1, 2, 2), size, Arbitraries.integers().between(0, LIMITS.length - 1),
                Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, 10_000), Arbitraries.of(true, false))
                .as(Op::new).list().ofMinSize(1).ofMaxSize(160);
    }

    @Provide
    Arbitrary<List<Resv>> resv() {
        return Combinators.combine(Arbitraries.longs().between(0, 0x1200), Arbitraries.longs().between(1, 0x300))
                .as(Resv::new).list().ofMaxSize(4);
    }

    /** An allocation handed out: first pfn and the pfns it covers (the rounded size when cached). */
    record Live(long pfn, long size) {
    }

    static long pow2(long n) {
        return n <= 1 ? 1 : Long.highestOneBit(n - 1) << 1;
    }

    /** True if [lo, hi] is free of every interval in {@code occupied}. */
    static boolean free(TreeMap<Long, Long> occupied, long lo, long hi) {
        Map.Entry<Long, Long> e = occupied.floorEntry(hi);
        return e == null || e.getValue() < lo;
    }

    /** Whether a {@code size}-aligned gap of {@code size} pfns exists in [START_PFN, limit] outside {@code occupied}. */
    static boolean gapExists(TreeMap<Long, Long> occupied, long size, long limit) {
        long align = pow2(size);
        long from = START_PFN;
        List<long[]> gaps = new ArrayList<>();
        for (Map.Entry<Long, Long> e : occupied.entrySet()) {
            if (e.getKey() > from) {
                gaps.add(new long[] {from, e.getKey() - 1});
            }
            from = Math.max(from, e.getValue() + 1);
        }
        gaps.add(new long[] {from, Long.MAX_VALUE - 1});
        for (long[] g : gaps) {
            long hi = Math.min(g[1], limit);
            long x = (g[0] + align - 1) / align * align;
            if (x + size - 1 <= hi) {
                return true;
            }
        }
        return false;
    }

    static final long DMA32 = 1L << 20;

    /** The walk is skipped: a request ending at or below 4 GiB no smaller than the last failed size. */
    static boolean fastFail(long limit, long size, long max32) {
        return limit + 1 <= DMA32 && size >= max32;
    }

    /** max32 after a failed request: a walk that ran remembers its size; a fast fail changes nothing. */
    static long failedWalk(long limit, long size, long max32) {
        return fastFail(limit, size, max32) ? max32 : size;
    }

    static void add(TreeMap<Long, Long> set, long lo, long hi) {
        set.put(lo, hi);
    }

    @Property(tries = 120)
    @Label("IOVA allocator vs a reference interval set: in mask, size-aligned, no overlap, reserved untouched, complete")
    void allocatorMatchesReference(@ForAll("ops") List<Op> ops, @ForAll("resv") List<Resv> resv) {
        IovaDomain iovad = new IovaDomain(0x1000, START_PFN, 3, null);
        TreeMap<Long, Long> reserved = new TreeMap<>();
        for (Resv r : resv) {
            iovad.reserveIova(r.lo(), r.lo() + r.len() - 1);
            // the reference: the union of every reserved range
            long lo = r.lo();
            long hi = r.lo() + r.len() - 1;
            for (Map.Entry<Long, Long> e : new ArrayList<>(reserved.entrySet())) {
                if (e.getKey() <= hi + 1 && lo <= e.getValue() + 1) {
                    lo = Math.min(lo, e.getKey());
                    hi = Math.max(hi, e.getValue());
                    reserved.remove(e.getKey());
                }
            }
            reserved.put(lo, hi);
        }
        List<Live> live = new ArrayList<>();
        TreeMap<Long, Long> cached = new TreeMap<>(); // pfn -> last pfn of ranges sitting in the caches
        // The kernel's max32_alloc_size: a walk that fails remembers its size, and a later request
        // with a limit at or below 4 GiB at least that large fails at once, until a range below
        // 4 GiB goes back to the tree.
        long max32 = DMA32;
        for (Op op : ops) {
            long limit = LIMITS[op.limit()];
            TreeMap<Long, Long> occupied = new TreeMap<>(reserved);
            live.forEach(l -> add(occupied, l.pfn(), l.pfn() + l.size() - 1));
            TreeMap<Long, Long> withCached = new TreeMap<>(occupied);
            withCached.putAll(cached);
            if (op.kind() == 0) {
                IovaDomain.Iova n = iovad.allocIova(op.size(), limit, true);
                if (n == null) {
                    assertThat(!gapExists(withCached, op.size(), limit) || fastFail(limit, op.size(), max32))
                            .as("alloc_iova failed with room: %s", op).isTrue();
                    max32 = failedWalk(limit, op.size(), max32);
                    continue;
                }
                check(n.pfnLo(), op.size(), limit, withCached);
                live.add(new Live(n.pfnLo(), op.size()));
            } else if (op.kind() == 1) {
                long size = op.size() < 32 ? pow2(op.size()) : op.size(); // iommu_dma_alloc_iova's rounding
                boolean hadCached = !cached.isEmpty();
                long pfn = iovad.allocIovaFast(op.cpu(), size, limit, true);
                Set<Long> nowCached = new HashSet<>(iovad.cachedPfns());
                // From a magazine: a cached range of this size class. (A pfn that was cached may
                // also come back from the tree after a flush gave every cached range back: that
                // shows as an empty cache where more than this one range was cached.)
                boolean fromCache = pfn != 0 && size <= 32 && cached.containsKey(pfn)
                        && cached.get(pfn) - pfn + 1 == size && !(nowCached.isEmpty() && cached.size() > 1);
                if (fromCache) {
                    assertThat(pfn + size - 1).isLessThanOrEqualTo(limit);
                    if (nowCached.isEmpty() && pfn >= DMA32) {
                        // it may have been the flush path (another CPU held it): keep the
                        // reference's fail-fast size at the more lenient of the two outcomes
                        max32 = Math.min(max32, size);
                    }
                    cached.remove(pfn);
                } else {
                    if (pfn == 0 || nowCached.isEmpty() && hadCached) {
                        // the first walk failed with the caches in the tree: they were all given back
                        assertThat(!gapExists(withCached, size, limit) || fastFail(limit, size, max32))
                                .as("fast alloc flushed with room: %s", op).isTrue();
                        max32 = failedWalk(limit, size, max32);
                        if (cached.keySet().stream().anyMatch(c -> c < DMA32)) {
                            max32 = DMA32;
                        }
                        cached.clear();
                    }
                    if (pfn == 0) {
                        assertThat(!gapExists(occupied, size, limit) || fastFail(limit, size, max32))
                                .as("alloc_iova_fast failed with room: %s", op).isTrue();
                        max32 = failedWalk(limit, size, max32);
                        continue;
                    }
                    TreeMap<Long, Long> occ = new TreeMap<>(occupied);
                    occ.putAll(cached);
                    check(pfn, size, limit, occ);
                }
                assertThat(nowCached).isEqualTo(cached.keySet());
                live.add(new Live(pfn, size));
            } else if (!live.isEmpty()) {
                Live l = live.remove(op.pick() % live.size());
                // the caches hold one size per class: only power-of-two ranges (as the DMA layer rounds) go there
                boolean toCache = op.fast() && l.size() == pow2(l.size())
                        && IovaDomain.orderBase2(l.size()) < IovaDomain.IOVA_RANGE_CACHE_MAX_SIZE;
                if (toCache || op.fast() && l.size() > 32) {
                    iovad.freeIovaFast(op.cpu(), l.pfn(), l.size());
                } else {
                    iovad.freeIova(l.pfn());
                }
                if (toCache) {
                    cached.put(l.pfn(), l.pfn() + l.size() - 1);
                } else if (l.pfn() < DMA32) {
                    max32 = DMA32;
                }
                assertThat(new HashSet<>(iovad.cachedPfns())).isEqualTo(cached.keySet());
            }
        }
        // Everything back: only the reserved pfns remain in the tree.
        for (Live l : live) {
            iovad.freeIova(l.pfn());
        }
        for (int c = 0; c < iovad.cpus(); c++) {
            iovad.freeCpuCachedIovas(c);
        }
        iovad.freeGlobalCachedIovas();
        assertThat(iovad.cachedRanges()).isZero();
        TreeMap<Long, Long> left = new TreeMap<>();
        for (IovaDomain.Iova n : iovad.ranges()) {
            left.put(n.pfnLo(), n.pfnHi());
        }
        assertThat(coverage(left)).isEqualTo(coverage(reserved));
    }

    /** A newly handed-out range: in [START_PFN, limit], aligned to its size's power of two, overlapping nothing. */
    static void check(long pfn, long size, long limit, TreeMap<Long, Long> occupied) {
        assertThat(pfn).isGreaterThanOrEqualTo(START_PFN);
        assertThat(pfn + size - 1).isLessThanOrEqualTo(limit);
        assertThat(pfn % pow2(size)).as("size-aligned").isZero();
        assertThat(free(occupied, pfn, pfn + size - 1)).as("[%#x, +%d) overlaps %s", pfn, size, occupied).isTrue();
    }

    /** The pfns covered, merged into maximal runs. */
    static List<List<Long>> coverage(TreeMap<Long, Long> set) {
        List<List<Long>> out = new ArrayList<>();
        for (Map.Entry<Long, Long> e : set.entrySet()) {
            if (!out.isEmpty() && out.get(out.size() - 1).get(1) + 1 >= e.getKey()) {
                List<Long> last = out.get(out.size() - 1);
                last.set(1, Math.max(last.get(1), e.getValue()));
            } else {
                out.add(new ArrayList<>(List.of(e.getKey(), e.getValue())));
            }
        }
        return out;
    }
}
