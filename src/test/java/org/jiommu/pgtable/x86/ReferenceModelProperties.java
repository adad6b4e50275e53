package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.x86.Tables.SZ_1G;
import static org.jiommu.pgtable.x86.Tables.SZ_2M;
import static org.jiommu.pgtable.x86.Tables.SZ_4K;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import org.jiommu.base.Errno;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;

/**
 * Random map / unmap / iova_to_phys sequences through the core's loops (MapLoop) agree with a
 * reference model that only knows which byte ranges are mapped where (a TreeMap of extents):
 * <ul>
 * <li>a map succeeds iff it overlaps nothing mapped; otherwise it is {@code -EADDRINUSE} and
 *     the core's unroll leaves the mappings as they were;</li>
 * <li>unmapping exactly what was mapped returns its size;</li>
 * <li>any other unmap removes a contiguous mapped run {@code [s, s + n)} starting at {@code s},
 *     and stops short only at a hole;</li>
 * <li>lookups agree everywhere; at the end the leaves are exactly the model's bytes, and after
 *     free() the frame allocator is back to its baseline.</li>
 * </ul>
 */
class ReferenceModelProperties {

    sealed interface Op permits MapOp, UnmapRegion, UnmapRange, Lookup {
    }

    /** Map {@code size} bytes at window offset {@code offset} to {@code offset + paDelta}. */
    record MapOp(long offset, long size, long paDelta) implements Op {
    }

    /** Unmap exactly the pick-th mapped extent (and the next one when adjacent and asked). */
    record UnmapRegion(int pick, boolean withNext) implements Op {
    }

    /** Unmap an arbitrary 4K-aligned range. */
    record UnmapRange(long offset, long size) implements Op {
    }

    record Lookup(long offset) implements Op {
    }

    /** The 4 GiB window the operations play in. */
    static final long WINDOW = 4 * SZ_1G;

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Long> granule = Arbitraries.frequency(Tuple.of(6, SZ_4K), Tuple.of(3, SZ_2M), Tuple.of(1, SZ_1G));
        Arbitrary<Op> map = granule.flatMap(g -> Combinators.combine(
                Arbitraries.longs().between(0, WINDOW / g - 1),
                g == SZ_4K ? Arbitraries.longs().between(1, 96) : Arbitraries.longs().between(1, g == SZ_1G ? 2 : 6),
                Arbitraries.longs().between(0, 3),
                Arbitraries.longs().between(1, 15),
                Arbitraries.of(true, false)).as((slot, n, tail, gig, congruent) -> {
                    long size = n * g + (g == SZ_4K ? 0 : tail * SZ_4K);
                    long offset = Math.min(slot * g, WINDOW - size);
                    offset &= -SZ_4K;
                    long delta = gig * SZ_1G + (congruent ? 0 : SZ_4K * (2 * tail + 1));
                    return new MapOp(offset, size, delta);
                }));
        Arbitrary<Op> unmapRegion = Combinators.combine(Arbitraries.integers().between(0, 1000),
                Arbitraries.of(true, false)).as(UnmapRegion::new);
        Arbitrary<Op> unmapRange = Combinators.combine(
                Arbitraries.longs().between(0, WINDOW / SZ_4K - 1),
                Arbitraries.longs().between(1, 1024)).as((page, n) -> {
                    long size = n <= 768 ? n * SZ_4K : (n - 768) * SZ_2M;
                    long offset = Math.min(page * SZ_4K, WINDOW - size);
                    return new UnmapRange(offset, size);
                });
        Arbitrary<Op> lookup = Arbitraries.longs().between(0, WINDOW - 8).map(o -> new Lookup(o & -8L));
        return Arbitraries.frequencyOf(Tuple.of(5, map), Tuple.of(2, unmapRegion), Tuple.of(2, unmapRange),
                Tuple.of(3, lookup)).list().ofMinSize(1).ofMaxSize(40);
    }

    @Property(tries = 40)
    @Label("VT-d second level (39/48/57-bit) agrees with the extent model; free() restores the allocator")
    void vtdAgreesWithModel(@ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 0, max = 2) int width) {
        Tables.Kind kind = Tables.kinds().toList().get(width);
        run(kind, ops, false);
    }

    @Property(tries = 40)
    @Label("x86-64 first level (4/5 levels, canonical or not, both halves) agrees with the extent model")
    void x86AgreesWithModel(@ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 3, max = 6) int config,
                            @ForAll boolean upperHalf) {
        Tables.Kind kind = Tables.kinds().toList().get(config);
        run(kind, ops, upperHalf);
    }

    private static void run(Tables.Kind kind, List<Op> ops, boolean upperHalf) {
        FrameAllocator a = Tables.allocator();
        long baseline = a.stats().liveBlocks();
        X86RadixPageTable t = kind.make(a);
        long base = upperHalf && t.signExtend() ? -(1L << (t.ias() - 1)) : 0;
        Model model = new Model();
        for (Op op : ops) {
            apply(t, model, base, op);
        }
        // the leaves are exactly the model's bytes, at the model's output addresses
        long leafBytes = 0;
        for (Tables.Desc d : Tables.leaves(t)) {
            long pa = model.phys(d.iova() - base);
            assertThat(pa).as("leaf at %#x is in the model", d.iova()).isNotNegative();
            assertThat(d.pte() & X86RadixPageTable.OA_MASK & ~(d.size() - 1)).isEqualTo(pa);
            leafBytes += d.size();
        }
        assertThat(leafBytes).isEqualTo(model.bytes());
        for (Map.Entry<Long, long[]> e : new ArrayList<>(model.extents.entrySet())) {
            long len = e.getValue()[0] - e.getKey();
            IotlbGather g = new IotlbGather();
            assertThat(Tables.unmap(t, base + e.getKey(), len, g)).isEqualTo(len);
            t.releaseFreelist(g);
        }
        assertThat(Tables.leaves(t)).isEmpty();
        t.free();
        assertThat(a.stats().liveBlocks()).as("pages after free()").isEqualTo(baseline);
    }

    private static void apply(X86RadixPageTable t, Model model, long base, Op op) {
        if (op instanceof MapOp m) {
            long pa = m.offset() + m.paDelta();
            int ret = Tables.map(t, base + m.offset(), pa, m.size());
            if (model.overlaps(m.offset(), m.offset() + m.size())) {
                assertThat(ret).as("%s over a mapping", m).isEqualTo(Errno.EADDRINUSE.neg());
            } else {
                assertThat(ret).as("%s", m).isZero();
                model.add(m.offset(), m.offset() + m.size(), pa);
                assertThat(t.iovaToPhys(base + m.offset())).isEqualTo(pa);
                assertThat(t.iovaToPhys(base + m.offset() + m.size() - 1)).isEqualTo(pa + m.size() - 1);
            }
        } else if (op instanceof UnmapRegion u) {
            if (model.extents.isEmpty()) {
                return;
            }
            List<Long> starts = new ArrayList<>(model.extents.keySet());
            long start = starts.get(u.pick() % starts.size());
            long end = model.extents.get(start)[0];
            if (u.withNext() && model.extents.containsKey(end)) {
                end = model.extents.get(end)[0];
            }
            IotlbGather g = new IotlbGather();
            assertThat(Tables.unmap(t, base + start, end - start, g)).as("unmap of mapped [%#x, %#x)", start, end)
                    .isEqualTo(end - start);
            assertThat(Long.compareUnsigned(g.start, base + start)).isLessThanOrEqualTo(0);
            assertThat(Long.compareUnsigned(g.end, base + end - 1)).isGreaterThanOrEqualTo(0);
            t.releaseFreelist(g);
            model.remove(start, end);
        } else if (op instanceof UnmapRange r) {
            IotlbGather g = new IotlbGather();
            long s = r.offset();
            long n = Tables.unmap(t, base + s, r.size(), g);
            t.releaseFreelist(g);
            if (model.phys(s) < 0) {
                assertThat(n).as("unmap from a hole at %#x", s).isZero();
            }
            if (n > 0) {
                assertThat(model.covers(s, s + n)).as("unmap [%#x, +%#x) removed a mapped run", s, n).isTrue();
                if (n < r.size()) {
                    assertThat(model.phys(s + n)).as("a short unmap stops at a hole").isNegative();
                }
                model.remove(s, s + n);
            }
        } else if (op instanceof Lookup l) {
            long pa = model.phys(l.offset());
            assertThat(t.iovaToPhys(base + l.offset())).isEqualTo(pa < 0 ? 0 : pa);
        }
    }

    /** Disjoint extents: start -> {end (exclusive), output address of start}. */
    static final class Model {
        final TreeMap<Long, long[]> extents = new TreeMap<>();

        boolean overlaps(long s, long e) {
            Map.Entry<Long, long[]> before = extents.lowerEntry(e);
            return before != null && before.getValue()[0] > s;
        }

        void add(long s, long e, long pa) {
            extents.put(s, new long[] {e, pa});
        }

        /** Output address of offset {@code x}, or -1 when unmapped. */
        long phys(long x) {
            Map.Entry<Long, long[]> f = extents.floorEntry(x);
            return f != null && f.getValue()[0] > x ? f.getValue()[1] + (x - f.getKey()) : -1;
        }

        /** True if [s, e) is mapped without a hole (possibly across adjacent extents). */
        boolean covers(long s, long e) {
            long x = s;
            while (x < e) {
                Map.Entry<Long, long[]> f = extents.floorEntry(x);
                if (f == null || f.getValue()[0] <= x) {
                    return false;
                }
                x = f.getValue()[0];
            }
            return true;
        }

        void remove(long s, long e) {
            for (Map.Entry<Long, long[]> f : new ArrayList<>(extents.subMap(extents.floorKey(s) == null ? s
                    : extents.floorKey(s), true, e, false).entrySet())) {
                long fs = f.getKey();
                long fe = f.getValue()[0];
                long pa = f.getValue()[1];
                if (fe <= s || fs >= e) {
                    continue;
                }
                extents.remove(fs);
                if (fs < s) {
                    extents.put(fs, new long[] {s, pa});
                }
                if (fe > e) {
                    extents.put(e, new long[] {fe, pa + (e - fs)});
                }
            }
        }

        long bytes() {
            return extents.entrySet().stream().mapToLong(x -> x.getValue()[0] - x.getKey()).sum();
        }
    }
}
