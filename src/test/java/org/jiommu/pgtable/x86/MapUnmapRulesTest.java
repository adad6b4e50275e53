package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jiommu.pgtable.x86.Tables.SZ_1G;
import static org.jiommu.pgtable.x86.Tables.SZ_2M;
import static org.jiommu.pgtable.x86.Tables.SZ_4K;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.TlbOps;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** map_pages / unmap_pages argument rules, table freeing and the gather, one rule per test. */
class MapUnmapRulesTest {

    /** What must not change when a call fails: every descriptor and the allocator's pages. */
    private record Snapshot(List<Tables.Desc> descriptors, long livePages) {
        static Snapshot of(X86RadixPageTable t) {
            return new Snapshot(Tables.descriptors(t), t.allocator().stats().liveBlocks());
        }
    }

    private static X86RadixPageTable populated(X86RadixPageTable t) {
        Mapped m = new Mapped();
        assertThat(t.mapPages(0x10_0000, 0x8010_0000L, SZ_4K, 4, Prot.RW, m)).isZero();
        assertThat(t.mapPages(SZ_2M * 3, 0x8060_0000L, SZ_2M, 1, Prot.RW, m)).isZero();
        assertThat(t.mapPages(SZ_1G * 2, 0x1_0000_0000L, SZ_1G, 1, Prot.READ, m)).isZero();
        return t;
    }

    private static void assertRefused(X86RadixPageTable t, int expected, long iova, long pa, long pgsize, long count,
                                      int prot) {
        Snapshot before = Snapshot.of(t);
        Mapped m = new Mapped();
        assertThat(t.mapPages(iova, pa, pgsize, count, prot, m))
                .as("map_pages(%#x, %#x, %#x, %d, %s)", iova, pa, pgsize, count, Prot.format(prot))
                .isEqualTo(expected);
        assertThat(m.bytes).as("bytes mapped by a refused call").isZero();
        assertThat(Snapshot.of(t)).isEqualTo(before);
    }

    @Test
    @DisplayName("bad map arguments get the kernel's errno and leave the table as it was (VT-d)")
    void badMapArgumentsVtd() {
        List<String> warns = new ArrayList<>();
        X86RadixPageTable t = populated(VtdSecondLevelPageTable.builder(Tables.allocator()).addressWidth(39)
                .outputWidth(46).warnings((w, m) -> warns.add(w)).build());
        assertRefused(t, Errno.EINVAL.neg(), 0, 0, SZ_4K, 1, 0);
        assertThat(warns).as("no READ/WRITE is a WARN in map_pages").containsExactly("map_pages");
        assertRefused(t, Errno.EINVAL.neg(), 0, 0, SZ_4K, 1, Prot.NOEXEC | Prot.CACHE);
        assertRefused(t, Errno.ERANGE.neg(), 0, 1L << 46, SZ_4K, 1, Prot.RW); // paddr beyond the output width
        assertRefused(t, Errno.ERANGE.neg(), 1L << 39, 0, SZ_4K, 1, Prot.RW); // iova beyond the input width
        assertRefused(t, Errno.ERANGE.neg(), (1L << 39) - SZ_4K, 0, SZ_4K, 2, Prot.RW); // last byte beyond it
        assertRefused(t, Errno.ENXIO.neg(), 0x1800, 0, SZ_4K, 1, Prot.RW); // misaligned single page
        assertRefused(t, Errno.ENXIO.neg(), 0x1000, 0x800, SZ_4K, 1, Prot.RW); // misaligned paddr
        assertRefused(t, Errno.ENXIO.neg(), 0x800, 0x800, SZ_4K, 2, Prot.RW); // no page size fits
        assertRefused(t, Errno.EINVAL.neg(), 0, 0, SZ_4K, 0, Prot.RW); // empty range
        assertRefused(t, Errno.EOVERFLOW.neg(), -SZ_4K, 0, SZ_4K, 2, Prot.RW); // wraps past 2^64
        assertRefused(t, Errno.EOVERFLOW.neg(), 0, 0, 1L << 40, 1L << 30, Prot.RW); // size_t product overflows
        assertRefused(t, Errno.EADDRINUSE.neg(), 0x10_1000, 0, SZ_4K, 1, Prot.RW); // over a 4K leaf
        assertRefused(t, Errno.EADDRINUSE.neg(), SZ_2M * 3 + SZ_4K, 0, SZ_4K, 1, Prot.RW); // into a 2M leaf
        assertRefused(t, Errno.EADDRINUSE.neg(), 0, 0, SZ_2M, 1, Prot.RW); // 2M over a table holding leaves
        assertRefused(t, Errno.EADDRINUSE.neg(), SZ_1G * 2, 0, SZ_2M, 1, Prot.RW); // inside a 1G leaf
        assertThat(warns).as("NOEXEC|CACHE has no READ/WRITE either").hasSize(2);
    }

    @Test
    @DisplayName("bad map arguments get the kernel's errno and leave the table as it was (x86-64, canonical)")
    void badMapArgumentsX86() {
        X86RadixPageTable t = populated(X86FirstLevelPageTable.builder(Tables.allocator()).levels(4)
                .signExtend(true).build());
        assertRefused(t, Errno.ERANGE.neg(), 0x0000_8000_0000_0000L, 0, SZ_4K, 1, Prot.RW); // not canonical
        assertRefused(t, Errno.ERANGE.neg(), 0, 1L << 52, SZ_4K, 1, Prot.RW);
        assertRefused(t, Errno.EINVAL.neg(), 0, 0, SZ_4K, 1, Prot.MMIO);
        assertRefused(t, Errno.ENXIO.neg(), 0x1000, 0x1234, SZ_4K, 1, Prot.READ);
        assertRefused(t, Errno.EADDRINUSE.neg(), 0x10_0000, 0, SZ_4K, 4, Prot.READ);
        Mapped m = new Mapped();
        assertThat(t.mapPages(0xFFFF_8000_0000_0000L, 0, SZ_4K, 1, Prot.RW, m)).as("canonical upper half").isZero();
    }

    @Test
    @DisplayName("pt_check_range quirk: a range from the top of the lower half past bit 47 is accepted and "
            + "its tail lands at the start of the upper half")
    void signExtendRangeQuirk() {
        X86RadixPageTable t = X86FirstLevelPageTable.builder(Tables.allocator()).levels(4).signExtend(true).build();
        Mapped m = new Mapped();
        // only bits above the width (63:48) are compared with va's sign, so last = 0x8000_0000_0fff passes
        assertThat(t.mapPages(0x7FFF_FFFF_F000L, 0x5000, SZ_4K, 2, Prot.RW, m)).isZero();
        assertThat(m.bytes).isEqualTo(2 * SZ_4K);
        assertThat(t.iovaToPhys(0x7FFF_FFFF_F000L)).isEqualTo(0x5000);
        assertThat(t.iovaToPhys(0x8000_0000_0000L)).as("non-canonical: (phys_addr_t)-ERANGE on lookup")
                .isEqualTo((long) Errno.ERANGE.neg());
        assertThat(t.iovaToPhys(0xFFFF_8000_0000_0000L)).as("top index 256 is the upper half").isEqualTo(0x6000);
    }

    @Test
    @DisplayName("FORCE_WRITEABLE (SPR17 erratum) refuses read-only maps with -EINVAL and no WARN")
    void forceWriteable() {
        List<String> warns = new ArrayList<>();
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.builder(Tables.allocator()).forceWriteable(true)
                .warnings((w, m) -> warns.add(w)).build();
        assertRefused(t, Errno.EINVAL.neg(), 0, 0, SZ_4K, 1, Prot.READ);
        assertThat(t.mapPages(0, 0, SZ_4K, 1, Prot.WRITE, new Mapped())).isZero();
        assertThat(warns).isEmpty();
    }

    @Test
    @DisplayName("map takes its leaf size from the domain's page sizes, not from pgsize (pt_compute_best_pgsize)")
    void leafSizeComesFromBitmap() {
        FrameAllocator a = Tables.allocator();
        // CAP.SLLPS without 1G: a 1G request becomes 512 2M leaves in one call
        VtdSecondLevelPageTable no1g = VtdSecondLevelPageTable.builder(a).pageSizes(SZ_4K | SZ_2M).build();
        assertThat(no1g.pgsizeBitmap()).isEqualTo(SZ_4K | SZ_2M);
        Mapped m = new Mapped();
        assertThat(no1g.mapPages(SZ_1G, SZ_1G, SZ_1G, 1, Prot.RW, m)).isZero();
        assertThat(m.bytes).isEqualTo(SZ_1G);
        assertThat(Tables.leafSizes(no1g)).isEqualTo(Map.of(SZ_2M, 512));
        // 4K pages asked over an aligned 2M run become one 2M leaf
        VtdSecondLevelPageTable all = VtdSecondLevelPageTable.create(a, 48);
        assertThat(all.mapPages(SZ_2M, 0x4020_0000L, SZ_4K, 512, Prot.RW, m)).isZero();
        assertThat(Tables.leafSizes(all)).isEqualTo(Map.of(SZ_2M, 1));
        // a size the table does not have (8K) is just a length: two 4K leaves
        assertThat(all.mapPages(0x8000, 0x8000, 0x2000, 1, Prot.RW, m)).isZero();
        assertThat(Tables.leafSizes(all)).isEqualTo(Map.of(SZ_4K, 2, SZ_2M, 1));
        // output width hides page sizes above it (get_info)
        VtdSecondLevelPageTable narrow = VtdSecondLevelPageTable.builder(a).outputWidth(30).build();
        assertThat(narrow.pgsizeBitmap()).isEqualTo(SZ_4K | SZ_2M);
    }

    @Test
    @DisplayName("a table of leaf-only entries is freed by an unmap covering all of it, onto the gather's freelist")
    void fullyCoveredTableGoesToFreelist() {
        FrameAllocator a = Tables.allocator();
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(a, 48);
        Mapped m = new Mapped();
        // (4K pages over an aligned 2M run would be one 2M leaf: the output is only 4K aligned)
        assertThat(t.mapPages(SZ_2M, 0x8000_1000L, SZ_4K, 512, Prot.RW, m)).isZero();
        assertThat(Tables.leafSizes(t)).isEqualTo(Map.of(SZ_4K, 512)).as("precondition");
        long leafTable = Tables.descriptors(t).stream().filter(d -> d.level() == 2 && !d.leaf()).findFirst()
                .orElseThrow().pte() & X86RadixPageTable.OA_MASK;
        long live = a.stats().liveBlocks();
        IotlbGather g = new IotlbGather();
        assertThat(t.unmapPages(SZ_2M, SZ_2M, 1, g)).isEqualTo(SZ_2M);
        assertThat(g.freelist).containsExactly(leafTable);
        assertThat(g.start).isEqualTo(SZ_2M);
        assertThat(g.end).isEqualTo(2 * SZ_2M - 1);
        assertThat(g.pgsize).as("generic_pt records ranges only (iommu_iotlb_gather_add_range)").isZero();
        assertThat(Tables.tableDescriptors(t)).as("the level-2 entry is cleared").isEqualTo(2);
        assertThat(a.isAllocated(leafTable)).as("freed only after the flush").isTrue();
        assertThat(a.stats().liveBlocks()).isEqualTo(live);
        t.releaseFreelist(g);
        assertThat(g.freelist).isEmpty();
        assertThat(a.stats().liveBlocks()).isEqualTo(live - 1);
        assertThat(a.isAllocated(leafTable)).isFalse();
    }

    @Test
    @DisplayName("tables are not freed by page-by-page unmaps or by a covering unmap that meets a hole")
    void emptyTablesStay() {
        FrameAllocator a = Tables.allocator();
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(a, 48);
        Mapped m = new Mapped();
        assertThat(t.mapPages(SZ_2M, 0x8000_0000L, SZ_4K, 511, Prot.RW, m)).isZero(); // the last page missing
        long tables = Tables.tableDescriptors(t);
        IotlbGather g = new IotlbGather();
        assertThat(t.unmapPages(SZ_2M, SZ_2M, 1, g)).as("stops at the hole").isEqualTo(511 * SZ_4K);
        assertThat(g.freelist).isEmpty();
        assertThat(Tables.tableDescriptors(t)).isEqualTo(tables);
        assertThat(t.mapPages(SZ_2M, 0x8000_0000L, SZ_4K, 1, Prot.RW, m)).isZero();
        assertThat(t.unmapPages(SZ_2M, SZ_4K, 1, g)).isEqualTo(SZ_4K);
        assertThat(g.freelist).isEmpty();
        assertThat(Tables.leaves(t)).isEmpty();
        assertThat(Tables.tableDescriptors(t)).as("the empty leaf table stays until free()").isEqualTo(tables);
        // an unmap starting at a hole removes nothing
        assertThat(t.unmapPages(SZ_2M, SZ_2M, 1, g)).isZero();
    }

    @Test
    @DisplayName("an unmap without a gather syncs through the table's TlbOps.iotlbSync, which owns the freed pages")
    void nullGatherSyncs() {
        FrameAllocator a = Tables.allocator();
        List<IotlbGather> synced = new ArrayList<>();
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.builder(a).tlb(TlbOps.syncing(synced::add)).build();
        assertThat(t.mapPages(SZ_2M, 0x8000_1000L, SZ_4K, 512, Prot.RW, new Mapped())).isZero();
        assertThat(t.unmapPages(SZ_2M, SZ_4K, 512, null)).isEqualTo(SZ_2M);
        assertThat(synced).singleElement().satisfies(g -> {
            assertThat(g.start).isEqualTo(SZ_2M);
            assertThat(g.end).isEqualTo(2 * SZ_2M - 1);
            assertThat(g.freelist).hasSize(1);
        });
        long live = a.stats().liveBlocks();
        t.releaseFreelist(synced.get(0));
        assertThat(a.stats().liveBlocks()).isEqualTo(live - 1);
    }

    @Test
    @DisplayName("a large leaf over an empty table subtree frees every table page of it through the sync")
    void tableToLeafFreesSubtree() {
        FrameAllocator a = Tables.allocator();
        List<IotlbGather> synced = new ArrayList<>();
        X86FirstLevelPageTable t = X86FirstLevelPageTable.builder(a).tlb(TlbOps.syncing(g -> {
            synced.add(g);
        })).build();
        Mapped m = new Mapped();
        // 3 leaf tables under one level-2 table, then emptied page by page
        for (long va : new long[] {SZ_1G, SZ_1G + SZ_2M, SZ_1G + 7 * SZ_2M}) {
            assertThat(t.mapPages(va, 0x1000, SZ_4K, 1, Prot.RW, m)).isZero();
            assertThat(t.unmapPages(va, SZ_4K, 1, new IotlbGather())).isEqualTo(SZ_4K);
        }
        long live = a.stats().liveBlocks();
        assertThat(Tables.tableDescriptors(t)).as("level 4 + level 3 + three level-2 entries").isEqualTo(5);
        assertThat(t.mapPages(SZ_1G, 0x4000_0000L, SZ_1G, 1, Prot.RW, m)).isZero();
        assertThat(synced).singleElement().satisfies(g -> {
            assertThat(g.freelist).hasSize(4);
            assertThat(g.start).isEqualTo(SZ_1G);
            assertThat(g.end).isEqualTo(2 * SZ_1G - 1);
        });
        assertThat(Tables.tableDescriptors(t)).isEqualTo(1);
        assertThat(a.stats().liveBlocks()).as("not freed before the sync's owner says so").isEqualTo(live);
        t.releaseFreelist(synced.get(0));
        assertThat(a.stats().liveBlocks()).isEqualTo(live - 4);
        assertThat(t.iovaToPhys(SZ_1G + 0x1234)).isEqualTo(0x4000_1234L);
    }

    @Test
    @DisplayName("bad unmap arguments unmap nothing")
    void badUnmapArguments() {
        X86RadixPageTable t = populated(VtdSecondLevelPageTable.create(Tables.allocator(), 39));
        Snapshot before = Snapshot.of(t);
        IotlbGather g = new IotlbGather();
        assertThat(t.unmapPages(0x10_0000, SZ_4K, 0, g)).isZero();
        assertThat(t.unmapPages(1L << 39, SZ_4K, 1, g)).isZero();
        assertThat(t.unmapPages(-SZ_4K, SZ_4K, 2, g)).isZero();
        assertThat(t.unmapPages(0x10_0000, -SZ_4K, 1, g)).isZero();
        assertThat(Snapshot.of(t)).isEqualTo(before);
        assertThat(g.isEmpty()).as("a refused range is not gathered").isTrue();
    }

    @Test
    @DisplayName("configuration errors: width, levels, output width, page sizes, sign extension")
    void badConfigurations() {
        FrameAllocator a = Tables.allocator();
        assertThatThrownBy(() -> VtdSecondLevelPageTable.create(a, 30)).isInstanceOfSatisfying(
                IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP));
        assertThatThrownBy(() -> VtdSecondLevelPageTable.create(a, 58)).isInstanceOfSatisfying(
                IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThatThrownBy(() -> VtdSecondLevelPageTable.builder(a).addressWidth(48).levels(3).build())
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP));
        assertThat(VtdSecondLevelPageTable.builder(a).addressWidth(39).levels(4).build().levels())
                .as("a narrower width than the levels resolve is fine").isEqualTo(4);
        assertThatThrownBy(() -> X86FirstLevelPageTable.create(a, 3)).isInstanceOfSatisfying(
                IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EOPNOTSUPP));
        assertThatThrownBy(() -> VtdSecondLevelPageTable.builder(a).outputWidth(53).build())
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThatThrownBy(() -> VtdSecondLevelPageTable.builder(a).pageSizes(SZ_2M | SZ_1G).build())
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThatThrownBy(() -> X86FirstLevelPageTable.builder(a).pageSizes(SZ_4K | 0x10000).build())
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThatThrownBy(() -> X86FirstLevelPageTable.builder(a).inputWidth(47).signExtend(true).build())
                .isInstanceOfSatisfying(IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(a.stats().liveBlocks()).as("refused configurations allocate nothing").isEqualTo(1);
        // no page for the top table
        a.failNthAllocation(1);
        assertThatThrownBy(() -> VtdSecondLevelPageTable.create(a, 48)).isInstanceOfSatisfying(
                IommuException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOMEM));
    }

    @Test
    @DisplayName("a failed table allocation stops map with -ENOMEM after the pages already mapped")
    void noMemoryMidMap() {
        FrameAllocator a = Tables.allocator();
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(a, 48);
        Mapped m = new Mapped();
        assertThat(t.mapPages(SZ_2M - 3 * SZ_4K, 0x1000, SZ_4K, 1, Prot.RW, m)).isZero();
        a.failNthAllocation(1); // the leaf table of the second 2M region
        m.reset();
        assertThat(t.mapPages(SZ_2M - 2 * SZ_4K, 0x10000, SZ_4K, 4, Prot.RW, m)).isEqualTo(Errno.ENOMEM.neg());
        assertThat(m.bytes).as("the two pages before the missing table").isEqualTo(2 * SZ_4K);
        assertThat(Tables.leafSizes(t)).isEqualTo(Map.of(SZ_4K, 3));
        a.failNthAllocation(0);
    }

    @Test
    @DisplayName("free() returns every page to the allocator; a second free() is a model bug")
    void freeReturnsEverything() {
        FrameAllocator a = new FrameAllocator(new PhysicalMemory(256L << 20));
        long base = a.stats().liveBlocks();
        X86RadixPageTable t = populated(X86FirstLevelPageTable.create(a, 5));
        assertThat(a.stats().liveBlocks()).as("top table + 4 tables below it").isEqualTo(base + 5);
        t.free();
        assertThat(a.stats().liveBlocks()).isEqualTo(base);
        assertThatThrownBy(t::free).isInstanceOf(IllegalStateException.class);
    }
}
