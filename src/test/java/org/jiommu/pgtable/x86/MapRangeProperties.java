package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.x86.Tables.SZ_1G;
import static org.jiommu.pgtable.x86.Tables.SZ_2M;
import static org.jiommu.pgtable.x86.Tables.SZ_4K;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;

/**
 * {@code map_range} (generic_pt, 7.1) against a reference that places one leaf at a time with
 * {@code pt_compute_best_pgsize}: the runs of equal leaves the format writes in bulk must come
 * out leaf for leaf the same, for every page-size set a VT-d domain can have.
 */
class MapRangeProperties {

    record Leaf(long iova, long size, long oa) {
    }

    /** The leaves of {@code t} as (iova, size, output address). */
    private static List<Leaf> leaves(X86RadixPageTable t) {
        List<Leaf> out = new ArrayList<>();
        for (Tables.Desc d : Tables.leaves(t)) {
            out.add(new Leaf(d.iova(), d.size(), d.pte() & X86RadixPageTable.OA_MASK & -d.size()));
        }
        return out;
    }

    /**
     * Reference: pt_compute_best_pgsize at each leaf, one leaf at a time, from iova to the end.
     */
    private static List<Leaf> bestLeaves(long bitmap, long iova, long pa, long len) {
        List<Leaf> out = new ArrayList<>();
        long last = iova + len - 1;
        for (long va = iova, oa = pa; Long.compareUnsigned(va, last) <= 0; ) {
            int s = X86RadixPageTable.bestPageShift(bitmap, va, last, oa);
            out.add(new Leaf(va, 1L << s, oa));
            va += 1L << s;
            oa += 1L << s;
        }
        return out;
    }

    @Provide
    Arbitrary<Long> bitmaps() {
        return Arbitraries.of(SZ_4K | SZ_2M | SZ_1G, SZ_4K | SZ_2M, SZ_4K | SZ_1G, SZ_4K);
    }

    @Property(tries = 100)
    @Label("map_range: one call writes exactly the leaves pt_compute_best_pgsize picks at each point")
    void mapRangeLeavesAreBestAtEachPoint(@ForAll("bitmaps") long bitmap,
                                          @ForAll("pages") long iovaPages, @ForAll("deltas") long paDelta,
                                          @ForAll("lengths") long lenPages) {
        long iova = iovaPages * SZ_4K;
        long pa = (iovaPages + paDelta) * SZ_4K;
        long len = lenPages * SZ_4K;
        FrameAllocator frames = Tables.allocator();
        Mapped mapped = new Mapped();
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.builder(frames).pageSizes(bitmap).build();
        assertThat(t.mapRange(iova, pa, len, Prot.RW, mapped.reset())).isZero();
        assertThat(mapped.bytes).isEqualTo(len);
        assertThat(leaves(t)).isEqualTo(bestLeaves(bitmap, iova, pa, len));
        IotlbGather g = new IotlbGather();
        assertThat(t.unmapRange(iova, len, g)).isEqualTo(len);
        t.releaseFreelist(g);
        t.free();
        assertThat(frames.stats().liveBlocks()).isZero();
    }

    @Provide
    Arbitrary<Long> pages() {
        // page numbers at, near and between 2M and 1G boundaries, so that runs step up and down
        Arbitrary<Long> small = Arbitraries.longs().between(0, 3);
        return Arbitraries.frequencyOf(
                Tuple.of(2, Arbitraries.longs().between(0, 3L << 18)),
                Tuple.of(3, Arbitraries.longs().between(0, 1535).flatMap(k -> small.map(o -> k * 512 + o))),
                Tuple.of(2, Arbitraries.longs().between(0, 3).flatMap(k -> Arbitraries.longs().between(-1030, 1030)
                        .map(o -> Math.max(0, (k << 18) + o)))));
    }

    @Provide
    Arbitrary<Long> deltas() {
        // paddr - iova in pages: identity, 2M- or 1G-congruent, or anything
        return Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.just(0L)),
                Tuple.of(2, Arbitraries.longs().between(0, 8).map(k -> k * 512)),
                Tuple.of(1, Arbitraries.longs().between(0, 4).map(k -> k << 18)),
                Tuple.of(2, Arbitraries.longs().between(0, 1L << 20)));
    }

    @Provide
    Arbitrary<Long> lengths() {
        return Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.longs().between(1, 1100)),
                Tuple.of(1, Arbitraries.longs().between((1L << 18) - 600, (1L << 18) + 1100)));
    }
}
