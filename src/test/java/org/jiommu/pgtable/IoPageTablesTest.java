package org.jiommu.pgtable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
import org.jiommu.pgtable.x86.X86FirstLevelPageTable;
import org.jiommu.pgtable.x86.X86RadixPageTable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@link IoPageTables#alloc} (alloc_io_pgtable_ops) hands out the very tables the formats' own
 * allocators build, and {@link TlbOps} reaches each format through the calls its kernel code makes.
 */
class IoPageTablesTest {
    private static final long SZ_4K = 1L << 12;
    private static final long SZ_2M = 1L << 21;
    private static final long SZ_1G = 1L << 30;

    private static FrameAllocator frames() {
        return new FrameAllocator(new PhysicalMemory(1L << 30));
    }

    /** Every descriptor of a walk as "level iova size pte leaf", with table addresses made relative to the root. */
    private static List<String> shape(IoPageTable t) {
        List<String> out = new ArrayList<>();
        t.walk((level, iova, size, pte, leaf) -> out.add(level + " " + Long.toHexString(iova) + " "
                + Long.toHexString(size) + " " + Long.toHexString(leaf ? pte : pte - t.root()) + " " + leaf));
        return out;
    }

    private static void mapSome(IoPageTable t) {
        Mapped m = new Mapped();
        assertThat(t.mapPages(0x4000_0000L, 0x8000_0000L, SZ_4K, 3, Prot.RW, m)).isZero();
        assertThat(t.mapPages(SZ_1G + SZ_2M, 0x9000_0000L - (0x9000_0000L % SZ_2M), SZ_2M, 1, Prot.READ, m)).isZero();
    }

    @Test
    @DisplayName("ARM LPAE S1 through the factory: same config outputs and descriptors as ArmLpaePageTable.alloc")
    void armLikeFormatAllocator() {
        IoPageTable viaFactory = IoPageTables.alloc(PgtableFormat.ARM_64_LPAE_S1, IoPgtableCfg.builder(frames())
                .pgsizeBitmap(SZ_4K | SZ_2M | SZ_1G).ias(48).oas(48).build(), TlbOps.NONE);
        ArmLpaePageTable direct = ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                .pgsizeBitmap(SZ_4K | SZ_2M | SZ_1G).ias(48).oas(48).build(), frames(), TlbOps.NONE,
                (w, m) -> { });
        assertThat(viaFactory).isInstanceOf(ArmLpaePageTable.class);
        ArmLpaePageTable a = (ArmLpaePageTable) viaFactory;
        assertThat(a.config().tcr()).isEqualTo(direct.config().tcr());
        assertThat(a.config().mair()).isEqualTo(direct.config().mair());
        assertThat(a.pgsizeBitmap()).isEqualTo(direct.pgsizeBitmap());
        mapSome(a);
        mapSome(direct);
        assertThat(shape(a)).isEqualTo(shape(direct)).isNotEmpty();
    }

    @Test
    @DisplayName("VT-d second level through the factory: width, page sizes and descriptors as the builder's")
    void vtdLikeBuilder() {
        IoPageTable t = IoPageTables.alloc(PgtableFormat.VTD_SECOND_LEVEL, IoPgtableCfg.builder(frames())
                .ias(39).pgsizeBitmap(SZ_4K | SZ_2M).build(), TlbOps.NONE);
        VtdSecondLevelPageTable direct = VtdSecondLevelPageTable.builder(frames()).addressWidth(39)
                .pageSizes(SZ_4K | SZ_2M).build();
        assertThat(t).isInstanceOf(VtdSecondLevelPageTable.class);
        assertThat(((X86RadixPageTable) t).levels()).isEqualTo(3);
        assertThat(t.pgsizeBitmap()).isEqualTo(direct.pgsizeBitmap()).isEqualTo(SZ_4K | SZ_2M);
        assertThat(t.ias()).isEqualTo(39);
        mapSome(t);
        mapSome(direct);
        assertThat(shape(t)).isEqualTo(shape(direct)).isNotEmpty();
    }

    @Test
    @DisplayName("x86-64 first level: 48 bits give 4 levels, 57 give 5; io-pgtable quirks are refused")
    void x86Levels() {
        IoPageTable four = IoPageTables.alloc(PgtableFormat.X86_64_FIRST_LEVEL,
                IoPgtableCfg.builder(frames()).ias(48).build(), TlbOps.NONE);
        IoPageTable five = IoPageTables.alloc(PgtableFormat.X86_64_FIRST_LEVEL,
                IoPgtableCfg.builder(frames()).ias(57).build(), TlbOps.NONE);
        assertThat(((X86FirstLevelPageTable) four).levels()).isEqualTo(4);
        assertThat(((X86FirstLevelPageTable) five).levels()).isEqualTo(5);
        assertThatThrownBy(() -> IoPageTables.alloc(PgtableFormat.X86_64_FIRST_LEVEL,
                IoPgtableCfg.builder(frames()).quirks(ArmLpaeConfig.QUIRK_NO_WARN).build(), TlbOps.NONE))
                .isInstanceOf(IommuException.class)
                .satisfies(e -> assertThat(((IommuException) e).errno()).isEqualTo(Errno.EINVAL));
        assertThatThrownBy(() -> IoPageTables.alloc(PgtableFormat.ARM_64_LPAE_S2, IoPgtableCfg.builder(frames())
                .pgsizeBitmap(SZ_4K).ias(40).oas(40).quirks(ArmLpaeConfig.QUIRK_ARM_NS).build(), TlbOps.NONE))
                .isInstanceOf(IommuException.class);
    }

    @Test
    @DisplayName("TlbOps: the x86 table syncs a gather-less unmap through iotlbSync; NONE frees the tables, syncing() hands them over")
    void iotlbSyncOwnsTheFreelist() {
        // a PA off 2M alignment keeps generic_pt from choosing a 2M leaf: 512 4K leaves in one table
        FrameAllocator a = frames();
        IoPageTable plain = IoPageTables.alloc(PgtableFormat.VTD_SECOND_LEVEL, IoPgtableCfg.builder(a).ias(39).build(),
                TlbOps.NONE);
        long base = a.stats().liveBlocks();
        assertThat(plain.mapPages(SZ_2M, 0x8000_1000L, SZ_4K, 512, Prot.RW, new Mapped())).isZero();
        long mapped = a.stats().liveBlocks();
        assertThat(mapped).isGreaterThan(base);
        assertThat(plain.unmapPages(SZ_2M, SZ_4K, 512, null)).isEqualTo(SZ_2M);
        assertThat(a.stats().liveBlocks()).isEqualTo(mapped - 1); // the emptied leaf table is gone

        FrameAllocator b = frames();
        List<IotlbGather> synced = new ArrayList<>();
        IoPageTable owned = IoPageTables.alloc(PgtableFormat.VTD_SECOND_LEVEL, IoPgtableCfg.builder(b).ias(39).build(),
                TlbOps.syncing(synced::add));
        assertThat(owned.mapPages(SZ_2M, 0x8000_1000L, SZ_4K, 512, Prot.RW, new Mapped())).isZero();
        long live = b.stats().liveBlocks();
        assertThat(owned.unmapPages(SZ_2M, SZ_4K, 512, null)).isEqualTo(SZ_2M);
        assertThat(synced).singleElement().satisfies(g -> assertThat(g.freelist).hasSize(1));
        assertThat(b.stats().liveBlocks()).isEqualTo(live); // not freed until the owner says so
        owned.releaseFreelist(synced.get(0));
        assertThat(b.stats().liveBlocks()).isEqualTo(live - 1);
    }

    @Test
    @DisplayName("TlbOps: the ARM table reports each cleared leaf through tlbAddPage")
    void armAddPage() {
        List<Long> added = new ArrayList<>();
        IoPageTable t = IoPageTables.alloc(PgtableFormat.ARM_64_LPAE_S1, IoPgtableCfg.builder(frames())
                .pgsizeBitmap(SZ_4K | SZ_2M | SZ_1G).ias(48).oas(48).build(), new TlbOps() {
                    @Override
                    public void tlbAddPage(IotlbGather gather, long iova, long granule) {
                        added.add(iova);
                        TlbOps.super.tlbAddPage(gather, iova, granule);
                    }
                });
        assertThat(t.mapPages(0x1000_0000L, 0x8000_0000L, SZ_4K, 2, Prot.RW, new Mapped())).isZero();
        IotlbGather g = new IotlbGather();
        assertThat(t.unmapPages(0x1000_0000L, SZ_4K, 2, g)).isEqualTo(2 * SZ_4K);
        assertThat(added).containsExactly(0x1000_0000L, 0x1000_1000L);
        assertThat(g.start).isEqualTo(0x1000_0000L);
        assertThat(g.end).isEqualTo(0x1000_1fffL);
    }
}
