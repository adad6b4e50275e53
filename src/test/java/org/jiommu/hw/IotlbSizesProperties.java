package org.jiommu.hw;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * {@link TranslationPipeline}'s IOTLB step skips the page sizes no entry ever had ({@link
 * Iotlb#sizesSeen}); the reference is the plain smallest-first probe of every size the unit
 * has. Mixed 4K / 2M / 1G fills, a full cache that empties itself, invalidations, and lookups
 * for read and write.
 */
class IotlbSizesProperties {
    static final int[] SHIFTS = {12, 21, 30};

    /** A pipeline with nothing but the IOTLB step, to call it. */
    static final class Bare extends TranslationPipeline {
        Bare(int entries) {
            super(new HwStats("t"), entries, SHIFTS);
        }

        IotlbEntry hit(long tag, long iova, boolean write) {
            return iotlbHit(tag, iova, write);
        }

        void fill(long tag, long iova, int shift, int perms) {
            long size = 1L << shift;
            iotlbFill(tag, iova, 0x80_0000_0000L + (iova & -size), size, perms, 0, iotlbEpoch());
        }
    }

    /** 0 fill, 1 lookup, 2 invalidate a range of a tag, 3 invalidate all. */
    record Op(int kind, long tag, long iova, int shiftIndex, int perms, boolean write) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Long> iova = Arbitraries.longs().between(0, 3).flatMap(gb -> Arbitraries.longs().between(0, 1023)
                .map(page -> (gb << 30) + (page % 4 << 21) + (page << 12 & 0x1f_f000L) + 0x10));
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 3).edgeCases(c -> c.includeOnly(0, 1)),
                Arbitraries.longs().between(1, 2), iova, Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(1, 3), Arbitraries.of(true, false)).as(Op::new);
        return op.list().ofMaxSize(100);
    }

    @Property(tries = 300)
    @Label("skipping sizes never cached finds what the smallest-first probe of every size finds")
    void prunedProbeAgreesWithFullProbe(@ForAll("ops") List<Op> ops) {
        Bare p = new Bare(8);
        for (Op op : ops) {
            switch (op.kind()) {
                case 0 -> p.fill(op.tag(), op.iova(), SHIFTS[op.shiftIndex()], op.perms());
                case 1 -> {
                    IotlbEntry expected = null;
                    for (int shift : SHIFTS) {
                        IotlbEntry e = p.iotlb().lookup(op.tag(), op.iova(), shift);
                        if (e != null) {
                            expected = (op.write() ? e.writable() : e.readable()) ? e : null;
                            break;
                        }
                    }
                    assertThat(p.hit(op.tag(), op.iova(), op.write())).isSameAs(expected);
                }
                case 2 -> p.iotlb().invalidateRange(op.tag(), op.iova() & -(1L << 21), 1L << 21);
                default -> p.iotlb().invalidateAll();
            }
            for (IotlbEntry e : p.iotlbEntries()) {
                assertThat(p.iotlb().sizesSeen() >>> e.pageShift & 1).as("size of %s seen", e).isEqualTo(1);
            }
        }
    }
}
