package org.jiommu.pgtable.arm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_16K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_64K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_1G;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_2G;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The kernel's own selftest ({@code arm_lpae_do_selftests}, HARDWARE.md 1.11, KUnit version):
 * 3 page-size bitmaps x 21 (ias, oas) pairs with ias <= oas x {S1, S2}, NO_WARN, coherent walk,
 * TLB callbacks checking every flushed size. Plus the legacy partial-unmap step, which the
 * current kernel answers with 0 and an intact block.
 */
class ArmLpaeSelftestTest {
    private static final long[] BITMAPS = {BITMAP_4K, BITMAP_16K, BITMAP_64K};
    private static final int[] ADDRESS_SIZES = {32, 36, 40, 42, 44, 48};
    private static final PgtableFormat[] FORMATS = {PgtableFormat.ARM_64_LPAE_S1, PgtableFormat.ARM_64_LPAE_S2};

    record Case(PgtableFormat format, long bitmap, int ias, int oas) {
        @Override
        public String toString() {
            return String.format("%s %s ias=%d oas=%d", format == PgtableFormat.ARM_64_LPAE_S1 ? "S1" : "S2",
                    LpaeTestSupport.sizes(bitmap), ias, oas);
        }
    }

    /** The KUnit loop order: bitmap, then oas index j, then ias index k <= j; S1 then S2. */
    static Stream<Case> kunitMatrix() {
        List<Case> cases = new ArrayList<>();
        for (long bitmap : BITMAPS) {
            for (int j = 0; j < ADDRESS_SIZES.length; j++) {
                for (int k = 0; k <= j; k++) {
                    for (PgtableFormat f : FORMATS) {
                        cases.add(new Case(f, bitmap, ADDRESS_SIZES[k], ADDRESS_SIZES[j]));
                    }
                }
            }
        }
        return cases.stream();
    }

    /** The legacy in-file selftest: oas fixed at 48. */
    static Stream<Case> legacyMatrix() {
        List<Case> cases = new ArrayList<>();
        for (long bitmap : BITMAPS) {
            for (int ias : ADDRESS_SIZES) {
                for (PgtableFormat f : FORMATS) {
                    cases.add(new Case(f, bitmap, ias, 48));
                }
            }
        }
        return cases.stream();
    }

    private final FrameAllocator frames = LpaeTestSupport.frames();
    private final LpaeTestSupport.Warnings warnings = new LpaeTestSupport.Warnings();
    private final LpaeTestSupport.CheckingTlb tlb = new LpaeTestSupport.CheckingTlb();

    private ArmLpaePageTable alloc(Case c) {
        ArmLpaePageTable t = ArmLpaePageTable.alloc(LpaeTestSupport.cfg(c.format(), c.bitmap(), c.ias(), c.oas())
                .quirks(ArmLpaeConfig.QUIRK_NO_WARN).coherentWalk(true).build(), frames, tlb, warnings);
        tlb.bitmap = t.pgsizeBitmap();
        return t;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kunitMatrix")
    @DisplayName("kernel selftest arm_lpae_run_tests")
    void runTests(Case c) {
        ArmLpaePageTable t = alloc(c);
        long bitmap = t.pgsizeBitmap();
        assertThat(bitmap).isEqualTo(c.bitmap());
        Mapped mapped = new Mapped();

        // 1. An empty table translates nothing.
        assertThat(t.iovaToPhys(42)).isZero();
        assertThat(t.iovaToPhys(SZ_1G + 42)).isZero();
        assertThat(t.iovaToPhys(SZ_2G + 42)).isZero();

        // 2. Distinct mappings of each page size, 1 GiB apart; overlapping maps fail.
        long iova = 0;
        for (long b = bitmap; b != 0; b &= b - 1) {
            long size = Long.lowestOneBit(b);
            assertThat(t.mapPages(iova, iova, size, 1, Prot.READ | Prot.WRITE | Prot.NOEXEC | Prot.CACHE, mapped))
                    .as("map %#x at %#x", size, iova).isZero();
            assertThat(t.mapPages(iova, iova + size, size, 1, Prot.READ | Prot.NOEXEC, mapped))
                    .as("overlapping map %#x at %#x", size, iova).isEqualTo(Errno.EEXIST.neg());
            assertThat(t.iovaToPhys(iova + 42)).isEqualTo(iova + 42);
            iova += SZ_1G;
        }

        // 3. Full unmap, then remap write-only.
        iova = 0;
        for (long b = bitmap; b != 0; b &= b - 1) {
            long size = Long.lowestOneBit(b);
            assertThat(t.unmapPages(iova, size, 1, null)).as("unmap %#x at %#x", size, iova).isEqualTo(size);
            assertThat(t.iovaToPhys(iova + 42)).isZero();
            assertThat(t.mapPages(iova, iova, size, 1, Prot.WRITE, mapped)).isZero();
            assertThat(t.iovaToPhys(iova + 42)).isEqualTo(iova + 42);
            iova += SZ_1G;
        }

        // 4. The last largest page of the IAS (corner of concatenated stage-2 PGDs).
        long size = Long.highestOneBit(bitmap);
        iova = (1L << t.ias()) - size;
        mapped.reset();
        assertThat(t.mapPages(iova, iova, size, 1, Prot.READ | Prot.WRITE | Prot.NOEXEC | Prot.CACHE, mapped))
                .isZero();
        assertThat(mapped.bytes).isEqualTo(size);
        assertThat(t.unmapPages(iova, size, 1, null)).isEqualTo(size);

        // 5. free_io_pgtable_ops: everything back, TLB flushed once, no WARN under NO_WARN.
        t.free();
        assertThat(frames.stats().allocatedBytes()).isZero();
        assertThat(tlb.flushAll).isEqualTo(1);
        assertThat(tlb.violations).isEmpty();
        assertThat(warnings.seen).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("legacyMatrix")
    @DisplayName("legacy partial-unmap step now returns 0 and leaves the block intact")
    void legacyPartialUnmap(Case c) {
        ArmLpaePageTable t = alloc(c);
        Mapped mapped = new Mapped();
        long iova = 0;
        for (long b = t.pgsizeBitmap(); b != 0; b &= b - 1) {
            long size = Long.lowestOneBit(b);
            assertThat(t.mapPages(iova, iova, size, 1, Prot.READ | Prot.WRITE | Prot.NOEXEC | Prot.CACHE, mapped))
                    .isZero();
            iova += SZ_1G;
        }
        long small = Long.lowestOneBit(t.pgsizeBitmap());
        long blockSize = Long.lowestOneBit(t.pgsizeBitmap() & ~small); // 2M / 32M / 512M, mapped at 1G
        List<Long> before = snapshot(t);
        IotlbGather gather = new IotlbGather();

        // Legacy: returned `small` and split the block. Current: 0, WARN, nothing changed.
        assertThat(t.unmapPages(SZ_1G + small, small, 1, gather)).isZero();
        assertThat(warnings.seen).singleElement().asString().contains("partial large IOPTE");
        assertThat(gather.isEmpty()).isTrue();
        assertThat(snapshot(t)).isEqualTo(before);
        assertThat(t.iovaToPhys(SZ_1G + small + 42)).isEqualTo(SZ_1G + small + 42);
        assertThat(t.iovaToPhys(SZ_1G + blockSize - 1)).isEqualTo(SZ_1G + blockSize - 1);
        // Legacy "remap of partial unmap" succeeded; the block is still there, so now it is -EEXIST.
        assertThat(t.mapPages(SZ_1G + small, small, small, 1, Prot.READ, mapped)).isEqualTo(Errno.EEXIST.neg());
        t.free();
        assertThat(frames.stats().allocatedBytes()).isZero();
    }

    /** Every valid descriptor as (level, iova, pte) triples flattened. */
    static List<Long> snapshot(ArmLpaePageTable t) {
        List<Long> all = new ArrayList<>();
        t.walk((level, iova, size, pte, leaf) -> {
            all.add((long) level);
            all.add(iova);
            all.add(pte);
        });
        return all;
    }
}
