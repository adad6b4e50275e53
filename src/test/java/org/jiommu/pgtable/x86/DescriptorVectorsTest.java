package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.x86.Tables.SZ_1G;
import static org.jiommu.pgtable.x86.Tables.SZ_2M;
import static org.jiommu.pgtable.x86.Tables.SZ_4K;

import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.Mapped;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** HARDWARE.md 7.3 vectors C1, C2, C10, C11 and the non-leaf entries, read back from memory. */
class DescriptorVectorsTest {

    /** The raw entry the walk reports for the leaf covering {@code iova}. */
    private static long leafPte(X86RadixPageTable t, long iova) {
        return Tables.leaves(t).stream().filter(d -> d.iova() <= iova && iova - d.iova() < d.size())
                .findFirst().orElseThrow().pte();
    }

    @Test
    @DisplayName("C1 VT-d width -> agaw/levels: 39 -> 1/3, 48 -> 2/4, 57 -> 3/5")
    void c1WidthToAgaw() {
        assertThat(VtdSecondLevelPageTable.agawForWidth(39)).isEqualTo(1);
        assertThat(VtdSecondLevelPageTable.agawForWidth(48)).isEqualTo(2);
        assertThat(VtdSecondLevelPageTable.agawForWidth(57)).isEqualTo(3);
        FrameAllocator a = Tables.allocator();
        for (int[] v : new int[][] {{39, 1, 3}, {48, 2, 4}, {57, 3, 5}}) {
            VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(a, v[0]);
            assertThat(t.aw()).as("AW of a %d-bit table", v[0]).isEqualTo(v[1]);
            assertThat(t.levels()).isEqualTo(v[2]);
            assertThat(t.ias()).isEqualTo(v[0]);
            t.free();
        }
    }

    @Test
    @DisplayName("C2 indices of iova 0x1234_5678_9000, L4..L1: 0x024 0x0d1 0x0b3 0x189 (and the walk uses them)")
    void c2Indices() {
        long iova = 0x0000_1234_5678_9000L;
        assertThat(X86RadixPageTable.index(iova, 4)).isEqualTo(0x024);
        assertThat(X86RadixPageTable.index(iova, 3)).isEqualTo(0x0D1);
        assertThat(X86RadixPageTable.index(iova, 2)).isEqualTo(0x0B3);
        assertThat(X86RadixPageTable.index(iova, 1)).isEqualTo(0x189);
        FrameAllocator a = Tables.allocator();
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(a, 48);
        assertThat(t.mapPages(iova, 0x8000_0000L, SZ_4K, 1, Prot.RW, new Mapped())).isZero();
        // follow the entries by hand: each level's entry sits at table + 8 * index
        long table = t.root();
        int[] expected = {0x024, 0x0D1, 0x0B3};
        for (int i = 0; i < 3; i++) {
            long e = a.memory().readLong(table + 8L * expected[i]);
            assertThat(e & 3).as("non-leaf entry at level %d is PA|R|W", 4 - i).isEqualTo(3);
            table = e & X86RadixPageTable.OA_MASK;
        }
        assertThat(a.memory().readLong(table + 8L * 0x189)).isEqualTo(0x8000_0003L);
    }

    @Test
    @DisplayName("C10 VT-d SL leaf: 4K RW 0x8000_0003, with SNP 0x8000_0803, 2M leaf 0x8020_0083")
    void c10SecondLevelLeaves() {
        FrameAllocator a = Tables.allocator();
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(a, 48);
        Mapped m = new Mapped();
        assertThat(t.mapPages(0x1000, 0x8000_0000L, SZ_4K, 1, Prot.RW, m)).isZero();
        assertThat(leafPte(t, 0x1000)).isEqualTo(0x8000_0003L);
        assertThat(t.mapPages(0x4000_0000L, 0x8020_0000L, SZ_2M, 1, Prot.RW, m)).isZero();
        assertThat(leafPte(t, 0x4000_0000L)).isEqualTo(0x8020_0083L);

        VtdSecondLevelPageTable snoop = VtdSecondLevelPageTable.builder(a).addressWidth(48).forceCoherence(true).build();
        assertThat(snoop.mapPages(0x1000, 0x8000_0000L, SZ_4K, 1, Prot.RW, m)).isZero();
        assertThat(leafPte(snoop, 0x1000)).isEqualTo(0x8000_0803L);
        // SNP is a leaf attribute only: the non-leaf entries stay PA|R|W
        assertThat(Tables.descriptors(snoop).stream().filter(d -> !d.leaf()).map(d -> d.pte() & 0xFFF).distinct()
                .toList()).containsExactly(3L);
        // IOMMU_CACHE does not change a VT-d SL leaf; only the table-wide feature does
        assertThat(t.mapPages(0x2000, 0x8000_0000L, SZ_4K, 1, Prot.RW | Prot.CACHE, m)).isZero();
        assertThat(leafPte(t, 0x2000)).isEqualTo(0x8000_0003L);
        t.enforceCacheCoherency();
        assertThat(t.mapPages(0x3000, 0x8000_0000L, SZ_4K, 1, Prot.READ, m)).isZero();
        assertThat(leafPte(t, 0x3000)).isEqualTo(0x8000_0801L);
        assertThat(VtdSecondLevelPageTable.isPresent(0x8000_0801L)).isTrue();
        assertThat(VtdSecondLevelPageTable.isPresent(0x8000_0800L)).as("SNP alone is not present").isFalse();
    }

    @Test
    @DisplayName("C11 x86-64 FL leaf: 4K RW 0x8000_0067 (P|RW|US|A|D), RO 0x8000_0025; NOEXEC sets no XD")
    void c11FirstLevelLeaves() {
        FrameAllocator a = Tables.allocator();
        X86FirstLevelPageTable t = X86FirstLevelPageTable.create(a, 4);
        Mapped m = new Mapped();
        assertThat(t.mapPages(0x1000, 0x8000_0000L, SZ_4K, 1, Prot.RW, m)).isZero();
        assertThat(t.mapPages(0x2000, 0x8000_0000L, SZ_4K, 1, Prot.READ, m)).isZero();
        assertThat(t.mapPages(0x3000, 0x8000_0000L, SZ_4K, 1, Prot.RW | Prot.NOEXEC | Prot.CACHE, m)).isZero();
        assertThat(t.mapPages(0x4000, 0x8000_0000L, SZ_4K, 1, Prot.WRITE, m)).isZero();
        assertThat(leafPte(t, 0x1000)).isEqualTo(0x8000_0067L);
        assertThat(leafPte(t, 0x2000)).isEqualTo(0x8000_0025L);
        assertThat(leafPte(t, 0x3000)).isEqualTo(0x8000_0067L);
        assertThat(leafPte(t, 0x4000)).as("write-only is writable").isEqualTo(0x8000_0067L);
        assertThat(t.mapPages(SZ_1G, 0x1_4000_0000L, SZ_1G, 1, Prot.READ, m)).isZero();
        assertThat(leafPte(t, SZ_1G)).as("1G read-only leaf has PS").isEqualTo(0x1_4000_00A5L);
        // non-leaf entries: PA | P | RW | US | A
        List<Tables.Desc> tables = Tables.descriptors(t).stream().filter(d -> !d.leaf()).toList();
        assertThat(tables).isNotEmpty();
        assertThat(tables).allSatisfy(d -> assertThat(d.pte() & 0xFFF).isEqualTo(0x27L));
        assertThat(t.flpm()).isZero();
    }

    @Test
    @DisplayName("SVA path: explicit x86 leaf attributes (user, XD, global) are stored as given, others refused")
    void explicitAttributes() {
        FrameAllocator a = Tables.allocator();
        X86FirstLevelPageTable t = X86FirstLevelPageTable.builder(a).levels(5).signExtend(true).build();
        Mapped m = new Mapped();
        long attrs = X86FirstLevelPageTable.RW | X86FirstLevelPageTable.US | X86FirstLevelPageTable.XD;
        assertThat(t.mapPagesWithAttributes(0x7fff_0000_0000L, 0x1234_5000L, SZ_4K, 1, attrs, m)).isZero();
        assertThat(leafPte(t, 0x7fff_0000_0000L)).isEqualTo(0x8000_0000_1234_5007L);
        assertThat(t.flpm()).isEqualTo(1);
        long kernel = X86FirstLevelPageTable.G | X86FirstLevelPageTable.A;
        assertThat(t.mapPagesWithAttributes(0xff00_0000_0000_0000L, 0x20_0000L, SZ_2M, 1, kernel, m)).isZero();
        assertThat(leafPte(t, 0xff00_0000_0000_0000L)).isEqualTo(0x20_01A1L);
        assertThat(t.iovaToPhys(0xff00_0000_0001_2345L)).isEqualTo(0x21_2345L);
        assertThat(t.mapPagesWithAttributes(0x1000, 0x1000, SZ_4K, 1, X86RadixPageTable.PS, m))
                .as("PS is not the caller's to set").isEqualTo(-22);
        assertThat(t.mapPagesWithAttributes(0x1000, 0x1000, SZ_4K, 1, 1L << 52, m)).isEqualTo(-22);
        assertThat(m.bytes).isEqualTo(SZ_4K + SZ_2M);
    }

    @Test
    @DisplayName("leaf sizes land at their levels: 4K at level 1, 2M (PS) at 2, 1G (PS) at 3, in both formats")
    void leafLevels() {
        FrameAllocator a = Tables.allocator();
        for (X86RadixPageTable t : List.of(VtdSecondLevelPageTable.create(a, 48), X86FirstLevelPageTable.create(a, 4))) {
            Mapped m = new Mapped();
            assertThat(t.mapPages(0, 0, SZ_4K, 1, Prot.RW, m)).isZero();
            assertThat(t.mapPages(SZ_2M, SZ_2M, SZ_2M, 1, Prot.RW, m)).isZero();
            assertThat(t.mapPages(SZ_1G, SZ_1G, SZ_1G, 1, Prot.RW, m)).isZero();
            assertThat(Tables.leaves(t)).extracting(Tables.Desc::level, Tables.Desc::size,
                            d -> (d.pte() & X86RadixPageTable.PS) != 0)
                    .containsExactly(
                            org.assertj.core.groups.Tuple.tuple(1, SZ_4K, false),
                            org.assertj.core.groups.Tuple.tuple(2, SZ_2M, true),
                            org.assertj.core.groups.Tuple.tuple(3, SZ_1G, true));
            t.free();
        }
        assertThat(a.stats().liveBlocks()).isZero();
    }
}
