package org.jiommu.pgtable.arm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_1G;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_2M;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_4K;

import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** map_pages / unmap_pages rules of HARDWARE.md 1.7-1.9 not covered by the A-vectors. */
class ArmLpaeMapUnmapTest {
    private final FrameAllocator frames = LpaeTestSupport.frames();
    private final LpaeTestSupport.Warnings warnings = new LpaeTestSupport.Warnings();
    private final LpaeTestSupport.CheckingTlb tlb = new LpaeTestSupport.CheckingTlb();
    private final Mapped mapped = new Mapped();
    private final ArmLpaePageTable t = ArmLpaePageTable.alloc(LpaeTestSupport.cfg(PgtableFormat.ARM_64_LPAE_S1,
            BITMAP_4K, 48, 48).quirks(ArmLpaeConfig.QUIRK_NO_WARN).build(), frames, tlb, warnings);

    {
        tlb.bitmap = BITMAP_4K;
    }

    private int map(long iova, long pa, long size, long count) {
        mapped.reset();
        return t.mapPages(iova, pa, size, count, Prot.RW, mapped);
    }

    @Test
    @DisplayName("1.8 unmap records one tlb_add_page per cleared leaf in the gather")
    void unmapGathers() {
        assertThat(map(0x10_0000, 0x10_0000, SZ_4K, 8)).isZero();
        IotlbGather gather = new IotlbGather();
        assertThat(t.unmapPages(0x10_2000, SZ_4K, 3, gather)).isEqualTo(3 * SZ_4K);
        assertThat(tlb.addPage).isEqualTo(3);
        assertThat(gather.start).isEqualTo(0x10_2000);
        assertThat(gather.end).isEqualTo(0x10_4FFF);
        assertThat(gather.pgsize).isEqualTo(SZ_4K);
        assertThat(t.iovaToPhys(0x10_1000)).isEqualTo(0x10_1000);
        assertThat(t.iovaToPhys(0x10_2000)).isZero();
        assertThat(t.iovaToPhys(0x10_5000)).isEqualTo(0x10_5000);
    }

    @Test
    @DisplayName("1.8 a queued gather (flush queue) gets no tlb_add_page")
    void queuedGather() {
        assertThat(map(0, 0, SZ_4K, 2)).isZero();
        IotlbGather gather = new IotlbGather();
        gather.queued = true;
        assertThat(t.unmapPages(0, SZ_4K, 2, gather)).isEqualTo(2 * SZ_4K);
        assertThat(tlb.addPage).isZero();
        assertThat(gather.isEmpty()).isTrue();
    }

    @Test
    @DisplayName("1.8 unmap stops at the first hole and returns what it cleared")
    void unmapStopsAtHole() {
        assertThat(map(0, 0, SZ_4K, 3)).isZero();
        assertThat(map(0x4000, 0x4000, SZ_4K, 1)).isZero();
        assertThat(t.unmapPages(0, SZ_4K, 5, null)).isEqualTo(3 * SZ_4K);
        assertThat(t.iovaToPhys(0x4000)).isEqualTo(0x4000);
    }

    @Test
    @DisplayName("1.7 tables are never freed when they empty")
    void emptyTablesStay() {
        long before = frames.stats().liveBlocks();
        assertThat(map(SZ_1G, 0, SZ_4K, 1)).isZero();
        long withTables = frames.stats().liveBlocks();
        assertThat(withTables - before).isEqualTo(3); // L1, L2 and L3 tables
        assertThat(t.unmapPages(SZ_1G, SZ_4K, 1, null)).isEqualTo(SZ_4K);
        assertThat(frames.stats().liveBlocks()).isEqualTo(withTables);
        assertThat(ArmLpaeSelftestTest.snapshot(t)).hasSize(3 * 3); // three table descriptors, no leaf
    }

    @Test
    @DisplayName("1.8 unmapping a block-sized slot that holds a table frees the subtree, live pages included")
    void unmapTableSlot() {
        assertThat(map(0, 0x5000_0000L, SZ_4K, 4)).isZero();
        long live = frames.stats().liveBlocks();
        IotlbGather gather = new IotlbGather();
        assertThat(t.unmapPages(0, SZ_2M, 1, gather)).isEqualTo(SZ_2M);
        assertThat(frames.stats().liveBlocks()).isEqualTo(live - 1);
        assertThat(tlb.flushWalk).isEqualTo(1);
        assertThat(gather.pgsize).isEqualTo(SZ_2M);
        assertThat(t.iovaToPhys(0x1000)).isZero();
    }

    @Test
    @DisplayName("1.7 pgsize not in the bitmap: -EINVAL with a WARN even under NO_WARN; unmap returns 0")
    void badPgsize() {
        assertThat(map(0, 0, 0x8000, 1)).isEqualTo(Errno.EINVAL.neg());
        assertThat(map(0, 0, 0, 1)).isEqualTo(Errno.EINVAL.neg());
        assertThat(t.unmapPages(0, 0x8000, 1, null)).isZero();
        assertThat(t.unmapPages(0, SZ_4K, 0, null)).as("pgcount 0").isZero();
        assertThat(warnings.seen).hasSize(4);
    }

    @Test
    @DisplayName("1.7 a multi-size pgsize passes the bitmap check (as in the kernel) and fails at level 3 with a WARN")
    void multiBitPgsize() {
        assertThat(map(0, 0, SZ_4K | SZ_2M, 1)).isEqualTo(Errno.EINVAL.neg());
        assertThat(warnings.seen).singleElement().asString().startsWith("__arm_lpae_map");
        assertThat(t.iovaToPhys(0)).isZero();
        assertThat(t.unmapPages(0, SZ_4K | SZ_2M, 1, null)).as("walks to the empty L3 slot").isZero();
    }

    @Test
    @DisplayName("1.7 a failed table allocation is -ENOMEM and leaves nothing mapped")
    void mapNoMemory() {
        long live = frames.stats().liveBlocks();
        frames.failNthAllocation(1);
        assertThat(map(0, 0, SZ_4K, 1)).isEqualTo(Errno.ENOMEM.neg());
        assertThat(mapped.bytes).isZero();
        assertThat(frames.stats().liveBlocks()).isEqualTo(live);
        assertThat(t.iovaToPhys(0)).isZero();
    }

    @Test
    @DisplayName("1.7 a block over a table and a leaf in one call: tables before the leaf are freed, then -EEXIST")
    void blockRunHitsLeaf() {
        assertThat(map(0, 0, SZ_4K, 1)).isZero();           // L3 table under L2 slot 0
        assertThat(map(SZ_2M, SZ_2M, SZ_2M, 1)).isZero();   // block in L2 slot 1
        long live = frames.stats().liveBlocks();
        assertThat(map(0, 0x4000_0000L, SZ_2M, 2)).isEqualTo(Errno.EEXIST.neg());
        assertThat(frames.stats().liveBlocks()).as("slot 0's table was already freed").isEqualTo(live - 1);
        assertThat(t.iovaToPhys(0)).isZero();
        assertThat(t.iovaToPhys(SZ_2M)).isEqualTo(SZ_2M);
    }

    @Test
    @DisplayName("1.9 iova_to_phys does not check the IAS: bits above the top index are ignored, as in the kernel")
    void iovaToPhysAliases() {
        assertThat(map(0x1000, 0x9000, SZ_4K, 1)).isZero();
        assertThat(t.iovaToPhys((1L << 48) | 0x1234)).isEqualTo(0x9234);
        assertThat(t.iovaToPhys(-1L)).isZero();
    }

    @Test
    @DisplayName("free flushes the TLB, returns every page, and the table refuses further use")
    void freeAndUseAfterFree() {
        assertThat(map(0, 0, SZ_4K, 1)).isZero();
        t.free();
        assertThat(tlb.flushAll).isEqualTo(1);
        assertThat(frames.stats().liveBlocks()).isZero();
        assertThatThrownBy(() -> t.iovaToPhys(0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> map(0, 0, SZ_4K, 1)).isInstanceOf(IllegalStateException.class);
    }
}
