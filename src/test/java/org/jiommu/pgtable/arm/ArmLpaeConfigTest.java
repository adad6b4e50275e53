package org.jiommu.pgtable.arm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_16K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_64K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_16K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_2M;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_64K;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Allocation: granule choice, geometry (HARDWARE.md 1.1), concatenation (1.2), registers (1.6), rejections. */
class ArmLpaeConfigTest {
    private static final PgtableFormat S1 = PgtableFormat.ARM_64_LPAE_S1;
    private static final PgtableFormat S2 = PgtableFormat.ARM_64_LPAE_S2;

    private final FrameAllocator frames = LpaeTestSupport.frames();
    private final LpaeTestSupport.Warnings warnings = new LpaeTestSupport.Warnings();

    private ArmLpaePageTable alloc(ArmLpaeConfig.Builder b) {
        return ArmLpaePageTable.alloc(b.build(), frames, TlbOps.NONE, warnings);
    }

    private static long bitmapFor(int granuleShift) {
        return granuleShift == 12 ? BITMAP_4K : granuleShift == 14 ? BITMAP_16K : BITMAP_64K;
    }

    @ParameterizedTest(name = "granule 2^{0} ias {1}: start L{2}, pgd_bits {3}")
    @DisplayName("1.1 geometry table (stage 1, and stage 2 where no concatenation applies)")
    @CsvSource({
        "12,32,1,2", "12,36,1,6", "12,39,1,9", "12,40,0,1", "12,42,0,3", "12,44,0,5", "12,48,0,9",
        "14,32,2,7", "14,36,2,11", "14,40,1,4", "14,42,1,6", "14,44,1,8", "14,48,0,1",
        "16,32,2,3", "16,36,2,7", "16,40,2,11", "16,42,2,13", "16,44,1,2", "16,48,1,6"})
    void geometry(int granuleShift, int ias, int startLevel, int pgdBits) {
        ArmLpaePageTable t = alloc(LpaeTestSupport.cfg(S1, bitmapFor(granuleShift), ias, 48));
        ArmLpaeConfig.Geometry g = t.geometry();
        assertThat(g.granuleShift()).isEqualTo(granuleShift);
        assertThat(g.bitsPerLevel()).isEqualTo(granuleShift - 3);
        assertThat(g.startLevel()).isEqualTo(startLevel);
        assertThat(g.levels()).isEqualTo(4 - startLevel);
        assertThat(g.pgdBits()).isEqualTo(pgdBits);
        assertThat(g.pgdSize()).isEqualTo(8L << pgdBits);
        assertThat(t.config().tcr().tsz()).isEqualTo(64 - ias);
        // oas 44 keeps stage 2 clear of every concatenation case except 16K with ias 48.
        if (!(granuleShift == 14 && ias == 48)) {
            ArmLpaePageTable s2 = alloc(LpaeTestSupport.cfg(S2, bitmapFor(granuleShift), ias, 44));
            assertThat(s2.geometry()).isEqualTo(g);
        }
    }

    @ParameterizedTest(name = "S2 granule 2^{0} ias=oas={1}: start L{2}, pgd_bits {3}")
    @DisplayName("1.2 stage-2 concatenation, current mandatory-only rule, ias == oas")
    @CsvSource({
        "12,40,1,10", "12,42,1,12", "12,44,0,5", "12,48,0,9", "12,36,1,6",
        "14,48,1,12", "14,40,2,15", "14,42,1,6", "14,44,1,8",
        "16,40,2,11", "16,44,1,2", "16,48,1,6"})
    void concatenation(int granuleShift, int bits, int startLevel, int pgdBits) {
        ArmLpaePageTable t = alloc(LpaeTestSupport.cfg(S2, bitmapFor(granuleShift), bits, bits));
        assertThat(t.geometry().startLevel()).isEqualTo(startLevel);
        assertThat(t.geometry().pgdBits()).isEqualTo(pgdBits);
        assertThat(t.root() % Math.max(64, t.geometry().pgdSize())).as("pgd naturally aligned").isZero();
        int sl = startLevel + (granuleShift == 12 ? 1 : 0);
        assertThat(t.config().vtcr().sl()).isEqualTo(~sl & 3);
    }

    @Test
    @DisplayName("1.2 16K ias 48 concatenates for oas 48 even when ias < 48 would not (ias == 48 alone suffices)")
    void concat16kIas48() {
        assertThat(alloc(LpaeTestSupport.cfg(S2, BITMAP_16K, 48, 44)).geometry().startLevel()).isEqualTo(1);
        assertThat(alloc(LpaeTestSupport.cfg(S2, BITMAP_16K, 44, 48)).geometry().startLevel()).isEqualTo(1);
    }

    @Test
    @DisplayName("1.2 concatenation needing more than 16 tables fails with a WARN (4K ias 48 oas 40)")
    void concatTooWide() {
        assertThatThrownBy(() -> alloc(LpaeTestSupport.cfg(S2, BITMAP_4K, 48, 40)))
                .isInstanceOf(IommuException.class)
                .satisfies(e -> assertThat(((IommuException) e).errno()).isEqualTo(Errno.EINVAL));
        assertThat(warnings.seen).singleElement().asString().contains("512");
        assertThat(frames.stats().liveBlocks()).isZero();
    }

    @Test
    @DisplayName("1.1 restrict_pgsizes: CPU page size first, else the largest smaller, else the smallest larger")
    void granuleChoice() {
        long all = BITMAP_4K | BITMAP_16K | BITMAP_64K;
        assertThat(alloc(LpaeTestSupport.cfg(S1, all, 48, 48)).pgsizeBitmap()).isEqualTo(BITMAP_4K);
        assertThat(alloc(LpaeTestSupport.cfg(S1, all, 48, 48).cpuPageSize(SZ_16K)).pgsizeBitmap())
                .isEqualTo(BITMAP_16K);
        assertThat(alloc(LpaeTestSupport.cfg(S1, BITMAP_4K | BITMAP_16K, 48, 48).cpuPageSize(SZ_64K))
                .pgsizeBitmap()).isEqualTo(BITMAP_16K);
        assertThat(alloc(LpaeTestSupport.cfg(S1, BITMAP_16K | BITMAP_64K, 48, 48)).pgsizeBitmap())
                .isEqualTo(BITMAP_16K);
        assertThat(alloc(LpaeTestSupport.cfg(S1, SZ_4K | SZ_2M | (1L << 39), 48, 48)).pgsizeBitmap())
                .as("sizes the granule cannot map are dropped").isEqualTo(SZ_4K | SZ_2M);
    }

    @Test
    @DisplayName("1.1 ias and oas clamp to 48, 52 only with the 64K granule")
    void clamps() {
        ArmLpaePageTable t4k = alloc(LpaeTestSupport.cfg(S1, BITMAP_4K, 52, 52));
        assertThat(t4k.ias()).isEqualTo(48);
        assertThat(t4k.oas()).isEqualTo(48);
        assertThat(t4k.config().tcr().ips()).isEqualTo(5);
        ArmLpaePageTable t64k = alloc(LpaeTestSupport.cfg(S1, BITMAP_64K, 52, 52));
        assertThat(t64k.ias()).isEqualTo(52);
        assertThat(t64k.config().tcr().tsz()).isEqualTo(12);
    }

    @Test
    @DisplayName("alloc rejects: other format, foreign quirks, no granule, OAS without PS code, OUTER_WBWA coherent")
    void rejections() {
        assertEinval(ArmLpaeConfig.builder(PgtableFormat.VTD_SECOND_LEVEL).pgsizeBitmap(BITMAP_4K).ias(48).oas(48));
        assertEinval(LpaeTestSupport.cfg(S1, BITMAP_4K, 48, 48).quirk(ArmLpaeConfig.QUIRK_ARM_S2FWB));
        assertEinval(LpaeTestSupport.cfg(S2, BITMAP_4K, 48, 48).quirk(ArmLpaeConfig.QUIRK_ARM_NS));
        assertEinval(LpaeTestSupport.cfg(S2, BITMAP_4K, 48, 48).quirk(ArmLpaeConfig.QUIRK_ARM_TTBR1));
        assertEinval(LpaeTestSupport.cfg(S1, 1L << 13, 48, 48));
        assertEinval(LpaeTestSupport.cfg(S1, BITMAP_4K, 48, 46));
        assertEinval(LpaeTestSupport.cfg(S2, BITMAP_4K, 40, 38));
        assertEinval(LpaeTestSupport.cfg(S1, BITMAP_4K, 48, 48).quirk(ArmLpaeConfig.QUIRK_ARM_OUTER_WBWA));
        assertEinval(LpaeTestSupport.cfg(S1, BITMAP_4K, 12, 48));
        assertThat(frames.stats().liveBlocks()).as("nothing allocated by a rejected config").isZero();
    }

    private void assertEinval(ArmLpaeConfig.Builder b) {
        assertThatThrownBy(() -> alloc(b)).isInstanceOf(IommuException.class)
                .satisfies(e -> assertThat(((IommuException) e).errno()).isEqualTo(Errno.EINVAL));
    }

    @Test
    @DisplayName("alloc: a failed PGD allocation is -ENOMEM")
    void pgdNoMemory() {
        frames.failNthAllocation(1);
        assertThatThrownBy(() -> alloc(LpaeTestSupport.cfg(S1, BITMAP_4K, 48, 48)))
                .isInstanceOf(IommuException.class)
                .satisfies(e -> assertThat(((IommuException) e).errno()).isEqualTo(Errno.ENOMEM));
    }

    @Test
    @DisplayName("1.6 non-coherent walk: TCR sh OS, NC walks (OUTER_WBWA: orgn WBWA); table descriptors carry SW_SYNC")
    void nonCoherent() {
        ArmLpaePageTable t = alloc(LpaeTestSupport.cfg(S1, BITMAP_4K, 48, 48).coherentWalk(false));
        assertThat(t.config().tcr()).isEqualTo(new ArmLpaeConfig.Tcr(5, 0, 2, 0, 0, 16));
        assertThat(alloc(LpaeTestSupport.cfg(S1, BITMAP_4K, 48, 48).coherentWalk(false)
                .quirk(ArmLpaeConfig.QUIRK_ARM_OUTER_WBWA)).config().tcr()).isEqualTo(
                        new ArmLpaeConfig.Tcr(5, 0, 2, 1, 0, 16));
        assertThat(alloc(LpaeTestSupport.cfg(S2, BITMAP_4K, 48, 48).coherentWalk(false)).config().vtcr())
                .isEqualTo(new ArmLpaeConfig.Vtcr(5, 0, 2, 0, 0, 2, 16));
        assertThat(t.mapPages(0, 0x1000, SZ_4K, 1, 3, new org.jiommu.pgtable.Mapped())).isZero();
        long l0 = frames.memory().readLong(t.root());
        assertThat(l0 & (1L << 55)).as("SW_SYNC").isNotZero();
        assertThat(t.iovaToPhys(0x123)).isEqualTo(0x1123);
        t.free();
    }

    @Test
    @DisplayName("quirk names print and parse in the kernel's words")
    void quirkNames() {
        assertThat(ArmLpaeConfig.quirkNames(ArmLpaeConfig.QUIRK_NO_WARN)).isEqualTo("NO_WARN");
        assertThat(ArmLpaeConfig.quirkNames(ArmLpaeConfig.QUIRK_ARM_TTBR1 | ArmLpaeConfig.QUIRK_ARM_NS))
                .isEqualTo("ARM_NS|ARM_TTBR1");
        assertThat(ArmLpaeConfig.quirkByName("ttbr1")).isEqualTo(ArmLpaeConfig.QUIRK_ARM_TTBR1);
        assertThat(ArmLpaeConfig.quirkByName("IO_PGTABLE_QUIRK_ARM_S2FWB")).isEqualTo(ArmLpaeConfig.QUIRK_ARM_S2FWB);
        assertThat(ArmLpaeConfig.quirkByName("bogus")).isZero();
    }

    @Test
    @DisplayName("the input config is not changed by alloc; the table's config carries the outputs")
    void immutableConfig() {
        ArmLpaeConfig in = LpaeTestSupport.cfg(S1, BITMAP_4K | BITMAP_64K, 52, 52).build();
        ArmLpaePageTable t = ArmLpaePageTable.alloc(in, frames, TlbOps.NONE, warnings);
        assertThat(in.isAllocated()).isFalse();
        assertThat(in.pgsizeBitmap()).isEqualTo(BITMAP_4K | BITMAP_64K);
        assertThat(t.config().isAllocated()).isTrue();
        assertThat(t.config().ttbr()).isEqualTo(t.root());
        assertThat(t.config().toBuilder().build().pgsizeBitmap()).isEqualTo(BITMAP_4K);
        assertThat(t.geometry().blockSize(2)).isEqualTo(SZ_2M);
        assertThat(frames.isAllocated(t.root())).isTrue();
        assertThat(SZ_64K).isEqualTo(t.geometry().granule() << 4);
    }
}
