package org.jiommu.pgtable.arm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_16K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_64K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_16K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_1G;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_2M;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_64K;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * HARDWARE.md 7.1, vectors A1-A39, each checked against the descriptors really written to
 * memory. A23 is corrected: the kernel's MAIR is 0xfffffffff404ff44 (see docs/pgtable-arm.md).
 */
class ArmLpaeVectorsTest {
    private static final PgtableFormat S1 = PgtableFormat.ARM_64_LPAE_S1;
    private static final PgtableFormat S2 = PgtableFormat.ARM_64_LPAE_S2;
    private static final long IOVA = 0x0000_1234_5678_9000L;
    private static final long ADDR_MASK = 0x0000_FFFF_FFFF_F000L;

    private final FrameAllocator frames = LpaeTestSupport.frames();
    private final PhysicalMemory memory = frames.memory();
    private final LpaeTestSupport.Warnings warnings = new LpaeTestSupport.Warnings();
    private final LpaeTestSupport.CheckingTlb tlb = new LpaeTestSupport.CheckingTlb();
    private final Mapped mapped = new Mapped();

    private ArmLpaePageTable table(PgtableFormat f, long bitmap, int ias, int oas, int quirks) {
        ArmLpaePageTable t = ArmLpaePageTable.alloc(LpaeTestSupport.cfg(f, bitmap, ias, oas).quirks(quirks).build(),
                frames, tlb, warnings);
        tlb.bitmap = t.pgsizeBitmap();
        return t;
    }

    private ArmLpaePageTable table(PgtableFormat f, long bitmap, int ias, int oas) {
        return table(f, bitmap, ias, oas, 0);
    }

    record Step(int level, int index, long pte) {
    }

    /** The walk for {@code iova} read straight from memory: level, index and descriptor per step. */
    private List<Step> path(ArmLpaePageTable t, long iova) {
        ArmLpaeConfig.Geometry g = t.geometry();
        List<Step> steps = new ArrayList<>();
        long table = t.root();
        for (int lvl = g.startLevel(); lvl < 4; lvl++) {
            int idx = g.index(iova, lvl);
            long pte = memory.readLong(table + 8L * idx);
            steps.add(new Step(lvl, idx, pte));
            if (lvl == 3 || (pte & 3) != 3) {
                break;
            }
            table = pte & ADDR_MASK;
        }
        return steps;
    }

    private long leaf(ArmLpaePageTable t, long iova) {
        List<Step> p = path(t, iova);
        return p.get(p.size() - 1).pte();
    }

    private int map(ArmLpaePageTable t, long iova, long pa, long size, long count, int prot) {
        mapped.reset();
        return t.mapPages(iova, pa, size, count, prot, mapped);
    }

    private void assertPath(List<Step> path, int startLevel, int... indices) {
        assertThat(path).hasSize(indices.length);
        for (int i = 0; i < indices.length; i++) {
            Step s = path.get(i);
            assertThat(s.level()).isEqualTo(startLevel + i);
            assertThat(s.index()).as("index at level %d", s.level()).isEqualTo(indices[i]);
            assertThat(s.pte() & 3).as("descriptor type at level %d", s.level()).isEqualTo(3);
        }
    }

    // ---- A1-A4: indices ----

    @Test
    @DisplayName("A1 4K ias 48: iova 0x123456789000 indexes L0..L3 at 0x24, 0xD1, 0xB3, 0x189")
    void a1() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, IOVA, 0x8000_0000L, SZ_4K, 1, Prot.RW)).isZero();
        assertPath(path(t, IOVA), 0, 0x024, 0x0D1, 0x0B3, 0x189);
    }

    @Test
    @DisplayName("A2 4K ias 39 starts at L1: indices 0xD1, 0xB3, 0x189")
    void a2() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 39, 48);
        long iova = IOVA & ((1L << 39) - 1);
        assertThat(map(t, iova, 0x8000_0000L, SZ_4K, 1, Prot.RW)).isZero();
        assertPath(path(t, iova), 1, 0x0D1, 0x0B3, 0x189);
    }

    @Test
    @DisplayName("A3 64K ias 48 starts at L1 (pgd_bits 6): indices 0x4, 0x11A2, 0x1678")
    void a3() {
        ArmLpaePageTable t = table(S1, BITMAP_64K, 48, 48);
        assertThat(t.geometry().pgdBits()).isEqualTo(6);
        long iova = IOVA & ~(SZ_64K - 1);
        assertThat(map(t, iova, 0x8000_0000L, SZ_64K, 1, Prot.RW)).isZero();
        assertPath(path(t, iova), 1, 0x4, 0x11A2, 0x1678);
    }

    @Test
    @DisplayName("A4 16K ias 48 starts at L0 (pgd_bits 1): indices 0x0, 0x123, 0x22B, 0x1E2")
    void a4() {
        ArmLpaePageTable t = table(S1, BITMAP_16K, 48, 48);
        assertThat(t.geometry().pgdBits()).isEqualTo(1);
        long iova = IOVA & ~(SZ_16K - 1);
        assertThat(map(t, iova, 0x8000_0000L, SZ_16K, 1, Prot.RW)).isZero();
        assertPath(path(t, iova), 0, 0x0, 0x123, 0x22B, 0x1E2);
    }

    // ---- A5-A15: stage-1 leaves ----

    private long s1Page(int prot, int quirks) {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48, quirks);
        assertThat(map(t, 0x1000, 0x8000_0000L, SZ_4K, 1, prot)).isZero();
        return leaf(t, 0x1000);
    }

    @Test
    @DisplayName("A5 S1 page R|W|CACHE = 0x80000F47")
    void a5() {
        assertThat(s1Page(Prot.RW | Prot.CACHE, 0)).isEqualTo(0x0000_0000_8000_0F47L);
    }

    @Test
    @DisplayName("A6 S1 page R|W = 0x80000E43 (AttrIndx 0, SH=OS)")
    void a6() {
        assertThat(s1Page(Prot.RW, 0)).isEqualTo(0x0000_0000_8000_0E43L);
    }

    @Test
    @DisplayName("A7 S1 page R|CACHE = 0x80000FC7 (read-only)")
    void a7() {
        assertThat(s1Page(Prot.READ | Prot.CACHE, 0)).isEqualTo(0x0000_0000_8000_0FC7L);
    }

    @Test
    @DisplayName("A8 S1 page R|W|CACHE|NOEXEC = 0x0060000080000F47 (PXN and UXN)")
    void a8() {
        assertThat(s1Page(Prot.RW | Prot.CACHE | Prot.NOEXEC, 0)).isEqualTo(0x0060_0000_8000_0F47L);
    }

    @Test
    @DisplayName("A9 S1 page WRITE only = 0x80000E43 (write-only gives RW AP)")
    void a9() {
        assertThat(s1Page(Prot.WRITE, 0)).isEqualTo(0x0000_0000_8000_0E43L);
    }

    @Test
    @DisplayName("A10 S1 page R|W|CACHE|PRIV = 0x80000F07 (no AP_UNPRIV)")
    void a10() {
        assertThat(s1Page(Prot.RW | Prot.CACHE | Prot.PRIV, 0)).isEqualTo(0x0000_0000_8000_0F07L);
    }

    @Test
    @DisplayName("A11 S1 page R|W|CACHE with ARM_NS = 0x80000F67")
    void a11() {
        assertThat(s1Page(Prot.RW | Prot.CACHE, ArmLpaeConfig.QUIRK_ARM_NS)).isEqualTo(0x0000_0000_8000_0F67L);
    }

    @Test
    @DisplayName("A12 S1 page R|W|CACHE with ARM_HD = 0x0008000080000F47 (DBM); read-only leaves get no DBM")
    void a12() {
        assertThat(s1Page(Prot.RW | Prot.CACHE, ArmLpaeConfig.QUIRK_ARM_HD)).isEqualTo(0x0008_0000_8000_0F47L);
        assertThat(s1Page(Prot.READ | Prot.CACHE, ArmLpaeConfig.QUIRK_ARM_HD)).isEqualTo(0x0000_0000_8000_0FC7L);
    }

    @Test
    @DisplayName("A13 S1 page R|W|MMIO at pa 0x10000000 = 0x10000E4B (AttrIndx 2)")
    void a13() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, 0x1000, 0x1000_0000L, SZ_4K, 1, Prot.RW | Prot.MMIO)).isZero();
        assertThat(leaf(t, 0x1000)).isEqualTo(0x0000_0000_1000_0E4BL);
    }

    @Test
    @DisplayName("A14 S1 2M block pa 0x80200000 R|W|CACHE at L2 = 0x80200F45")
    void a14() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, 0x20_0000, 0x8020_0000L, SZ_2M, 1, Prot.RW | Prot.CACHE)).isZero();
        List<Step> p = path(t, 0x20_0000);
        assertThat(p.get(p.size() - 1)).isEqualTo(new Step(2, 1, 0x0000_0000_8020_0F45L));
    }

    @Test
    @DisplayName("A15 S1 1G block pa 0x40000000 R|W|CACHE at L1 = 0x40000F45")
    void a15() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, SZ_1G, 0x4000_0000L, SZ_1G, 1, Prot.RW | Prot.CACHE)).isZero();
        List<Step> p = path(t, SZ_1G);
        assertThat(p.get(p.size() - 1)).isEqualTo(new Step(1, 1, 0x0000_0000_4000_0F45L));
    }

    // ---- A16-A20: stage-2 leaves ----

    private long s2Page(int prot, int quirks) {
        ArmLpaePageTable t = table(S2, BITMAP_4K, 48, 48, quirks);
        assertThat(map(t, 0x1000, 0x8000_0000L, SZ_4K, 1, prot)).isZero();
        return leaf(t, 0x1000);
    }

    @Test
    @DisplayName("A16 S2 page R|W|CACHE = 0x800007FF")
    void a16() {
        assertThat(s2Page(Prot.RW | Prot.CACHE, 0)).isEqualTo(0x0000_0000_8000_07FFL);
    }

    @Test
    @DisplayName("A17 S2 page R|W = 0x800006D7 (MemAttr 0101, SH OS)")
    void a17() {
        assertThat(s2Page(Prot.RW, 0)).isEqualTo(0x0000_0000_8000_06D7L);
    }

    @Test
    @DisplayName("A18 S2 page R|CACHE = 0x8000077F")
    void a18() {
        assertThat(s2Page(Prot.READ | Prot.CACHE, 0)).isEqualTo(0x0000_0000_8000_077FL);
    }

    @Test
    @DisplayName("A19 S2 page R|W|MMIO = 0x800006C7")
    void a19() {
        assertThat(s2Page(Prot.RW | Prot.MMIO, 0)).isEqualTo(0x0000_0000_8000_06C7L);
    }

    @Test
    @DisplayName("A20 S2 page R|W|CACHE with S2FWB = 0x800007DB")
    void a20() {
        assertThat(s2Page(Prot.RW | Prot.CACHE, ArmLpaeConfig.QUIRK_ARM_S2FWB)).isEqualTo(0x0000_0000_8000_07DBL);
    }

    // ---- A21-A22: table descriptors, 52-bit PA ----

    @Test
    @DisplayName("A21 table descriptor = next table PA | 3, with ARM_NS also NSTable (bit 63)")
    void a21() {
        for (int quirks : new int[] {0, ArmLpaeConfig.QUIRK_ARM_NS}) {
            ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48, quirks);
            assertThat(map(t, 0x1000, 0x8000_0000L, SZ_4K, 1, Prot.RW)).isZero();
            List<Step> p = path(t, 0x1000);
            for (Step s : p.subList(0, 3)) {
                long next = s.pte() & ADDR_MASK;
                long expected = next | 3 | (quirks != 0 ? 1L << 63 : 0);
                assertThat(s.pte()).isEqualTo(expected);
                assertThat(frames.isAllocated(next)).as("descriptor points at a live table page").isTrue();
            }
            t.free();
        }
    }

    @Test
    @DisplayName("A22 64K granule, 52-bit pa 0x000A000001230000: PA[51:48] in bits 15:12 = 0x0123AF47")
    void a22() {
        ArmLpaePageTable t = table(S1, BITMAP_64K | 1L << 42, 52, 52);
        assertThat(t.ias()).isEqualTo(52);
        long pa = 0x000A_0000_0123_0000L;
        assertThat(map(t, 0x10000, pa, SZ_64K, 1, Prot.RW | Prot.CACHE)).isZero();
        assertThat(leaf(t, 0x10000)).isEqualTo(0x0000_0000_0123_AF47L);
        assertThat(t.iovaToPhys(0x1_2345)).isEqualTo(pa | 0x2345);
        assertThat(t.config().tcr().ips()).isEqualTo(6);
        assertThat(t.pgsizeBitmap()).as("4T blocks with oas > 48").isEqualTo(BITMAP_64K | 1L << 42);
        assertThat(table(S1, BITMAP_64K | 1L << 42, 52, 48).pgsizeBitmap()).as("no 4T with oas 48")
                .isEqualTo(BITMAP_64K);
    }

    // ---- A23-A29: registers and geometry ----

    @Test
    @DisplayName("A23 S1 MAIR is the kernel's 0xfffffffff404ff44 (HARDWARE.md's 0xf404ff44 corrected: int shift sign-extends)")
    void a23() {
        assertThat(table(S1, BITMAP_4K, 48, 48).config().mair()).isEqualTo(0xFFFF_FFFF_F404_FF44L);
        assertThat(table(S2, BITMAP_4K, 48, 48).config().mair()).isZero();
    }

    @Test
    @DisplayName("A24 S1 TCR 4K 48/48 coherent: tsz 16, tg 0, sh 3, irgn 1, orgn 1, ips 5")
    void a24() {
        assertThat(table(S1, BITMAP_4K, 48, 48).config().tcr())
                .isEqualTo(new ArmLpaeConfig.Tcr(5, 0, 3, 1, 1, 16));
    }

    @Test
    @DisplayName("A25 S1 TCR with ARM_TTBR1 uses TG1 codes: 64K -> 3 (and 4K -> 2, 16K -> 1)")
    void a25() {
        assertThat(table(S1, BITMAP_64K, 48, 48, ArmLpaeConfig.QUIRK_ARM_TTBR1).config().tcr().tg()).isEqualTo(3);
        assertThat(table(S1, BITMAP_4K, 48, 48, ArmLpaeConfig.QUIRK_ARM_TTBR1).config().tcr().tg()).isEqualTo(2);
        assertThat(table(S1, BITMAP_16K, 48, 48, ArmLpaeConfig.QUIRK_ARM_TTBR1).config().tcr().tg()).isEqualTo(1);
        assertThat(table(S1, BITMAP_64K, 48, 48).config().tcr().tg()).isEqualTo(1);
    }

    @Test
    @DisplayName("A26 S2 4K 40/40 concatenates: start L1, 8 KiB pgd (1024 entries), VTCR tsz 24 sl 1 ps 2")
    void a26() {
        ArmLpaePageTable t = table(S2, BITMAP_4K, 40, 40);
        ArmLpaeConfig.Geometry g = t.geometry();
        assertThat(g.startLevel()).isEqualTo(1);
        assertThat(g.pgdSize()).isEqualTo(0x2000);
        assertThat(g.concatTables()).isEqualTo(2);
        assertThat(t.config().vtcr()).isEqualTo(new ArmLpaeConfig.Vtcr(2, 0, 3, 1, 1, 1, 24));
        assertThat(t.root() % 0x2000).as("concatenated pgd naturally aligned").isZero();
        // The second pgd page is really used: L1 index 512 lives at pgd + 4 KiB.
        assertThat(map(t, 512 * SZ_1G, 0, SZ_1G, 1, Prot.RW)).isZero();
        assertThat(memory.readLong(t.root() + 0x1000)).isEqualTo(0x0000_0000_0000_06D5L);
    }

    @Test
    @DisplayName("A27 S2 4K 48/48: start L0, SL0 field 2, 4 KiB pgd")
    void a27() {
        ArmLpaePageTable t = table(S2, BITMAP_4K, 48, 48);
        assertThat(t.geometry().startLevel()).isZero();
        assertThat(t.geometry().pgdSize()).isEqualTo(0x1000);
        assertThat(t.config().vtcr().sl()).isEqualTo(2);
    }

    @Test
    @DisplayName("A28 S2 16K 40/40 (current rule): start L2, pgd_bits 15 = 16 concatenated 16K tables")
    void a28() {
        ArmLpaePageTable t = table(S2, BITMAP_16K, 40, 40);
        assertThat(t.geometry().startLevel()).isEqualTo(2);
        assertThat(t.geometry().pgdBits()).isEqualTo(15);
        assertThat(t.geometry().concatTables()).isEqualTo(16);
        assertThat(t.root() % (16 * SZ_16K)).isZero();
        // The last largest page lands in the 16th table.
        long last = (1L << 40) - LpaeTestSupport.SZ_32M;
        assertThat(map(t, last, last, LpaeTestSupport.SZ_32M, 1, Prot.RW)).isZero();
        assertThat(memory.readLong(t.root() + 8L * ((1 << 15) - 1)) & 3).isEqualTo(1);
    }

    @Test
    @DisplayName("A29 S2 4K 32/32: start L1, 4-entry pgd (32 B, allocated at least 64 B), SL0 field 1")
    void a29() {
        long before = frames.stats().allocatedBytes();
        ArmLpaePageTable t = table(S2, BITMAP_4K, 32, 32);
        assertThat(t.geometry().startLevel()).isEqualTo(1);
        assertThat(t.geometry().pgdSize()).isEqualTo(32);
        assertThat(frames.stats().allocatedBytes() - before).isGreaterThanOrEqualTo(64);
        assertThat(t.root() % 64).isZero();
        assertThat(t.config().vtcr().sl()).isEqualTo(1);
    }

    // ---- A30-A39: behaviour ----

    @Test
    @DisplayName("A30 mapping 4K over a 4K leaf: -EEXIST, mapped unchanged, WARN unless NO_WARN")
    void a30() {
        for (int quirks : new int[] {ArmLpaeConfig.QUIRK_NO_WARN, 0}) {
            warnings.seen.clear();
            ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48, quirks);
            assertThat(map(t, 0, 0x1000, SZ_4K, 1, Prot.RW)).isZero();
            assertThat(map(t, 0, 0x2000, SZ_4K, 1, Prot.RW)).isEqualTo(Errno.EEXIST.neg());
            assertThat(mapped.bytes).isZero();
            assertThat(t.iovaToPhys(0)).isEqualTo(0x1000);
            assertThat(warnings.seen).hasSize(quirks == 0 ? 1 : 0);
            t.free();
        }
    }

    @Test
    @DisplayName("A31 mapping 4K inside a 2M block: -EEXIST from the leaf met while descending")
    void a31() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, SZ_1G, SZ_1G, SZ_2M, 1, Prot.RW)).isZero();
        long allocated = frames.stats().allocatedBytes();
        assertThat(map(t, SZ_1G + SZ_4K, 0x5000, SZ_4K, 1, Prot.RW)).isEqualTo(Errno.EEXIST.neg());
        assertThat(frames.stats().allocatedBytes()).as("no table allocated for it").isEqualTo(allocated);
    }

    @Test
    @DisplayName("A32 unmapping 4K inside a 2M block: returns 0, WARN, block intact (no split)")
    void a32() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48, ArmLpaeConfig.QUIRK_NO_WARN);
        assertThat(map(t, SZ_1G, 0x8000_0000L, SZ_2M, 1, Prot.RW)).isZero();
        long block = leaf(t, SZ_1G);
        IotlbGather gather = new IotlbGather();
        assertThat(t.unmapPages(SZ_1G + SZ_4K, SZ_4K, 1, gather)).isZero();
        assertThat(warnings.seen).singleElement().asString().contains("Unmap of a partial large IOPTE");
        assertThat(leaf(t, SZ_1G)).isEqualTo(block);
        assertThat(t.iovaToPhys(SZ_1G + SZ_4K)).isEqualTo(0x8000_1000L);
        assertThat(gather.isEmpty()).isTrue();
    }

    @Test
    @DisplayName("A33 512 x 4K at iova 0 in one call fills one L3 table: mapped = 2M")
    void a33() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, 0, 0x4000_0000L, SZ_4K, 512, Prot.RW)).isZero();
        assertThat(mapped.bytes).isEqualTo(SZ_2M);
        assertThat(t.iovaToPhys(SZ_2M - 1)).isEqualTo(0x4000_0000L + SZ_2M - 1);
    }

    @Test
    @DisplayName("A34 4K x 600 at L3 index 511 maps only to the end of the table: mapped = 4K")
    void a34() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, 0x1F_F000, 0x4000_0000L, SZ_4K, 600, Prot.RW)).isZero();
        assertThat(mapped.bytes).isEqualTo(SZ_4K);
        assertThat(t.iovaToPhys(SZ_2M)).isZero();
    }

    @Test
    @DisplayName("A35 a 2M block over an L3 table with live pages: table freed (walk flushed), block installed")
    void a35() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, 0, 0x7000_0000L, SZ_4K, 3, Prot.RW)).isZero();
        long l3 = path(t, 0).get(2).pte() & ADDR_MASK;
        assertThat(frames.isAllocated(l3)).isTrue();
        long allocated = frames.stats().allocatedBytes();
        assertThat(map(t, 0, 0x8000_0000L, SZ_2M, 1, Prot.RW)).isZero();
        assertThat(frames.isAllocated(l3)).isFalse();
        assertThat(frames.stats().allocatedBytes()).isEqualTo(allocated - SZ_4K);
        assertThat(tlb.flushWalk).isEqualTo(1);
        assertThat(leaf(t, 0)).isEqualTo(0x8000_0000L | 0xE41);
        assertThat(t.iovaToPhys(0x1000)).isEqualTo(0x8000_1000L);
    }

    @Test
    @DisplayName("A36 unmapping a hole returns 0, WARN unless NO_WARN")
    void a36() {
        for (int quirks : new int[] {ArmLpaeConfig.QUIRK_NO_WARN, 0}) {
            warnings.seen.clear();
            ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48, quirks);
            assertThat(t.unmapPages(0x5000, SZ_4K, 1, null)).isZero();
            assertThat(warnings.seen).hasSize(quirks == 0 ? 1 : 0);
            t.free();
        }
    }

    @Test
    @DisplayName("A37 iova_to_phys(0x40001234) inside a 1G block pa 0x80000000 = 0x80001234")
    void a37() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48);
        assertThat(map(t, 0x4000_0000L, 0x8000_0000L, SZ_1G, 1, Prot.RW)).isZero();
        assertThat(t.iovaToPhys(0x4000_1234L)).isEqualTo(0x8000_1234L);
    }

    @Test
    @DisplayName("A38 map with iova >= 2^ias (no TTBR1): -ERANGE with a WARN")
    void a38() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 40, 48, ArmLpaeConfig.QUIRK_NO_WARN);
        assertThat(map(t, 1L << 40, 0, SZ_4K, 1, Prot.RW)).isEqualTo(Errno.ERANGE.neg());
        assertThat(map(t, 0, 1L << 48, SZ_4K, 1, Prot.RW)).as("pa beyond oas").isEqualTo(Errno.ERANGE.neg());
        assertThat(warnings.seen).hasSize(2);
        assertThat(t.unmapPages(1L << 40, SZ_4K, 1, null)).isZero();
        assertThat(warnings.seen).hasSize(3);
    }

    @Test
    @DisplayName("A39 TTBR1 ias 48: iova 0xFFFF000000001000 accepted at L0 index 0, L3 index 1; lower half -ERANGE")
    void a39() {
        ArmLpaePageTable t = table(S1, BITMAP_4K, 48, 48, ArmLpaeConfig.QUIRK_ARM_TTBR1);
        long iova = 0xFFFF_0000_0000_1000L;
        assertThat(map(t, iova, 0x9000_0000L, SZ_4K, 1, Prot.RW)).isZero();
        List<Step> p = path(t, iova);
        assertThat(p.get(0).index()).isZero();
        assertThat(p.get(3).index()).isEqualTo(1);
        assertThat(t.iovaToPhys(iova + 0x10)).isEqualTo(0x9000_0010L);
        assertThat(map(t, 0x1000, 0x9000_0000L, SZ_4K, 1, Prot.RW)).isEqualTo(Errno.ERANGE.neg());
        List<Long> iovas = new ArrayList<>();
        t.walk((level, va, size, pte, leafDesc) -> iovas.add(va));
        assertThat(iovas).containsExactly(0xFFFF_0000_0000_0000L, 0xFFFF_0000_0000_0000L, 0xFFFF_0000_0000_0000L, iova);
        assertThat(t.unmapPages(iova, SZ_4K, 1, null)).isEqualTo(SZ_4K);
    }
}
