package org.jiommu.pgtable.x86;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.x86.Tables.SZ_1G;
import static org.jiommu.pgtable.x86.Tables.SZ_2M;
import static org.jiommu.pgtable.x86.Tables.SZ_4K;

import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The 7.1 generic_pt entry points the core calls once per range ({@code map_range},
 * {@code unmap_range}) and the format rules the vtd-x86 golden vectors pinned
 * ({@code pt_check_range}'s sign prefix, {@code iova_to_phys} out of range, OA wrap).
 */
class MapRangeTest {
    private final FrameAllocator frames = Tables.allocator();
    private final Mapped mapped = new Mapped();

    @Test
    @DisplayName("map_range: KUnit test_mixed's range is 14x2M + 3x1G + 3x2M in one call")
    void mapRangeMixed() {
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(frames, 48);
        long iova = 0x3fe400L << 12;
        long len = (0x4c0600L << 12) - iova;
        assertThat(t.mapRange(iova, iova, len, Prot.RW, mapped.reset())).isZero();
        assertThat(Tables.leafSizes(t)).containsEntry(SZ_2M, 17).containsEntry(SZ_1G, 3).hasSize(2);
        // map_pages over the same range takes one leaf size for the whole call (2M)
        VtdSecondLevelPageTable p = VtdSecondLevelPageTable.create(frames, 48);
        assertThat(p.mapPages(iova, iova, SZ_2M, len / SZ_2M, Prot.RW, mapped.reset())).isZero();
        assertThat(Tables.leafSizes(p)).containsOnlyKeys(SZ_2M);
    }

    @Test
    @DisplayName("map_range: an occupied leaf stops it with -EADDRINUSE, mapped counts the leaves written")
    void mapRangeAddrInUseCountsMapped() {
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(frames, 48);
        assertThat(t.mapRange(0x5000, 0x5000, SZ_4K, Prot.RW, mapped.reset())).isZero();
        assertThat(t.mapRange(0x1000, 0x1000, 0x8000, Prot.RW, mapped.reset())).isEqualTo(Errno.EADDRINUSE.neg());
        assertThat(mapped.bytes).isEqualTo(0x4000);
        assertThat(t.iovaToPhys(0x4000)).isEqualTo(0x4000);
        assertThat(t.iovaToPhys(0x6000)).as("nothing past the collision").isZero();
    }

    @Test
    @DisplayName("map_range: a tail shorter than 4K is -ENXIO after the whole pages before it")
    void mapRangeShortTail() {
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(frames, 48);
        assertThat(t.mapRange(0x1000, 0x1000, 0x1800, Prot.RW, mapped.reset())).isEqualTo(Errno.ENXIO.neg());
        assertThat(mapped.bytes).isEqualTo(0x1000);
        assertThat(t.mapRange(0x10000, 0x1000, 0x800, Prot.RW, mapped.reset())).isEqualTo(Errno.ENXIO.neg());
        assertThat(mapped.bytes).isZero();
    }

    @Test
    @DisplayName("map_range: an output range running past 2^52 wraps to 0 in the entries")
    void mapRangeOutputWraps() {
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(frames, 48);
        assertThat(t.mapRange(0x2000_0000L, 0xf_ffff_ffff_f000L, 0x3000, Prot.RW, mapped.reset())).isZero();
        assertThat(t.iovaToPhys(0x2000_0000L)).isEqualTo(0xf_ffff_ffff_f000L);
        assertThat(t.iovaToPhys(0x2000_1234L)).isEqualTo(0x234);
        assertThat(t.iovaToPhys(0x2000_2000L)).isEqualTo(0x1000);
    }

    @Test
    @DisplayName("unmap_range: the gather gets what was unmapped (a whole 2M leaf for 4K), nothing for 0")
    void unmapRangeGathersUnmapped() {
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(frames, 48);
        assertThat(t.mapRange(SZ_2M, SZ_2M, SZ_2M, Prot.RW, mapped.reset())).isZero();
        IotlbGather g = new IotlbGather();
        assertThat(t.unmapRange(SZ_2M + SZ_4K, SZ_4K, g)).as("inside the leaf").isZero();
        assertThat(g.isEmpty()).isTrue();
        assertThat(t.unmapRange(SZ_2M, SZ_4K, g)).isEqualTo(SZ_2M);
        assertThat(g.start).isEqualTo(SZ_2M);
        assertThat(g.end).isEqualTo(2 * SZ_2M - 1);
        // the older unmap_pages gathers the requested range instead
        assertThat(t.mapRange(SZ_2M, SZ_2M, SZ_2M, Prot.RW, mapped.reset())).isZero();
        IotlbGather old = new IotlbGather();
        assertThat(t.unmapPages(SZ_2M, SZ_4K, 1, old)).isEqualTo(SZ_2M);
        assertThat(old.end).isEqualTo(SZ_2M + SZ_4K - 1);
    }

    @Test
    @DisplayName("pt_check_range: any bit at or above W-1 makes the prefix all ones, so 0xffff000000000000 "
            + "indexes like 0 on a 48-bit sign-extended table")
    void ptCheckRangeSignPrefix() {
        X86FirstLevelPageTable t = X86FirstLevelPageTable.builder(frames).levels(4).signExtend(true).build();
        assertThat(t.mapRange(0, 0x7000, SZ_4K, Prot.RW, mapped.reset())).isZero();
        assertThat(t.mapRange(0xffff_0000_0000_0000L, 0, SZ_4K, Prot.RW, mapped.reset()))
                .isEqualTo(Errno.EADDRINUSE.neg());
        assertThat(t.iovaToPhys(0xffff_0000_0000_0123L)).isEqualTo(0x7123);
        assertThat(t.mapRange(0x8000_0000_0000L, 0, SZ_4K, Prot.RW, mapped.reset()))
                .as("bit 47 alone: prefix all ones, bits 63:48 zero").isEqualTo(Errno.ERANGE.neg());
    }

    @Test
    @DisplayName("iova_to_phys: outside the table it is (phys_addr_t)-ERANGE, unmapped inside it is 0")
    void iovaToPhysOutOfRange() {
        VtdSecondLevelPageTable t = VtdSecondLevelPageTable.create(frames, 39);
        assertThat(t.iovaToPhys(1L << 39)).isEqualTo(0xffff_ffff_ffff_ffdeL);
        assertThat(t.iovaToPhys((1L << 39) - 1)).isZero();
    }
}
