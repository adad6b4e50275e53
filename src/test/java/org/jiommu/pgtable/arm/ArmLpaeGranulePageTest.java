package org.jiommu.pgtable.arm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_64K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_1G;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_2M;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_64K;

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
 * One leaf per call (a page of the granule, map and unmap; a block, map): the short walks (one
 * read per level through tables) must hand every other case to the general
 * {@code __arm_lpae_map} / {@code __arm_lpae_unmap} walk unchanged: a missing table, a block on
 * the way, an occupied or empty leaf slot, a table where a block goes, a descriptor of an
 * invalid type on the way, a 52-bit output address, a pgsize of several sizes.
 */
class ArmLpaeGranulePageTest {
    private final FrameAllocator frames = LpaeTestSupport.frames();
    private final LpaeTestSupport.Warnings warnings = new LpaeTestSupport.Warnings();
    private final LpaeTestSupport.CheckingTlb tlb = new LpaeTestSupport.CheckingTlb();
    private final Mapped mapped = new Mapped();

    private ArmLpaePageTable table(long bitmap, int ias, int oas) {
        tlb.bitmap = bitmap;
        return ArmLpaePageTable.alloc(LpaeTestSupport.cfg(PgtableFormat.ARM_64_LPAE_S1, bitmap, ias, oas).build(),
                frames, tlb, warnings);
    }

    private int map(ArmLpaePageTable t, long iova, long pa, long size) {
        mapped.reset();
        return t.mapPages(iova, pa, size, 1, Prot.RW, mapped);
    }

    @Test
    @DisplayName("a 4K page: first map builds the tables, the next ones reuse them; unmap gathers one page")
    void mapThenUnmap() {
        ArmLpaePageTable t = table(BITMAP_4K, 48, 48);
        long before = frames.memory().framesTouched();
        assertThat(map(t, 0x1234_5678_9000L, 0x8000_1000L, SZ_4K)).isZero();
        assertThat(mapped.bytes).isEqualTo(SZ_4K);
        assertThat(frames.memory().framesTouched() - before).isEqualTo(3); // L1, L2, L3 tables
        assertThat(map(t, 0x1234_5678_a000L, 0x8000_2000L, SZ_4K)).isZero();
        assertThat(frames.memory().framesTouched() - before).isEqualTo(3);
        assertThat(t.iovaToPhys(0x1234_5678_a123L)).isEqualTo(0x8000_2123L);
        // the leaf bits are arm_lpae_prot_to_pte | page type | address (vector A6)
        long[] leaf = new long[1];
        t.walk((lvl, iova, size, pte, isLeaf) -> {
            if (isLeaf && iova == 0x1234_5678_9000L) {
                leaf[0] = pte;
            }
        });
        assertThat(leaf[0]).isEqualTo(0x8000_1000L | 0xE43L);

        IotlbGather gather = new IotlbGather();
        assertThat(t.unmapPages(0x1234_5678_9000L, SZ_4K, 1, gather)).isEqualTo(SZ_4K);
        assertThat(tlb.addPage).isEqualTo(1);
        assertThat(gather.start).isEqualTo(0x1234_5678_9000L);
        assertThat(gather.end).isEqualTo(0x1234_5678_9FFFL);
        assertThat(t.iovaToPhys(0x1234_5678_9000L)).isZero();
        assertThat(t.iovaToPhys(0x1234_5678_a000L)).isEqualTo(0x8000_2000L);
        assertThat(warnings.seen).isEmpty();
        assertThat(tlb.violations).isEmpty();
    }

    @Test
    @DisplayName("a 4K page over a 2M block: map -EEXIST and unmap 0 with their WARNs, the block stays")
    void blockOnTheWay() {
        ArmLpaePageTable t = table(BITMAP_4K, 48, 48);
        assertThat(map(t, 0x4000_0000L, 0x8000_0000L, SZ_2M)).isZero();
        assertThat(map(t, 0x4000_3000L, 0x9000_0000L, SZ_4K)).isEqualTo(Errno.EEXIST.neg());
        assertThat(t.unmapPages(0x4000_3000L, SZ_4K, 1, null)).isZero();
        assertThat(t.iovaToPhys(0x4000_3000L)).isEqualTo(0x8000_3000L);
        assertThat(warnings.seen).hasSize(2);
        assertThat(warnings.seen.get(0)).startsWith("__arm_lpae_map: ");
        assertThat(warnings.seen.get(1)).startsWith("__arm_lpae_unmap: ").contains("partial");
    }

    @Test
    @DisplayName("an occupied 4K slot: map -EEXIST with its WARN; an empty one: unmap 0 with the hole WARN")
    void leafSlot() {
        ArmLpaePageTable t = table(BITMAP_4K, 48, 48);
        assertThat(map(t, 0x10_0000L, 0x20_0000L, SZ_4K)).isZero();
        assertThat(map(t, 0x10_0000L, 0x30_0000L, SZ_4K)).isEqualTo(Errno.EEXIST.neg());
        assertThat(t.iovaToPhys(0x10_0000L)).isEqualTo(0x20_0000L);
        assertThat(t.unmapPages(0x10_1000L, SZ_4K, 1, null)).isZero(); // same L3 table, empty slot
        assertThat(t.unmapPages(0x7f00_0000_0000L, SZ_4K, 1, null)).isZero(); // empty L0 slot
        assertThat(warnings.seen).hasSize(3);
        assertThat(warnings.seen.get(1)).contains("empty level 3 slot");
        assertThat(warnings.seen.get(2)).contains("empty level 0 slot");
    }

    @Test
    @DisplayName("an invalid-type descriptor on the way is a table to the general walk, not to the short one")
    void invalidTypeOnTheWay() {
        ArmLpaePageTable t = table(BITMAP_4K, 48, 48);
        assertThat(map(t, 0x10_0000L, 0x20_0000L, SZ_4K)).isZero();
        // Turn the L2 descriptor (a table) into type 0b10 (invalid, reserved) with the same address.
        PhysicalMemory mem = frames.memory();
        long[] l2slot = new long[2];
        t.walk((lvl, iova, size, pte, isLeaf) -> {
            if (lvl == 1 && !isLeaf) {
                l2slot[0] = pte & ArmLpaePageTable.ADDR_MASK; // the L2 table
            }
        });
        long slot = l2slot[0]; // index 0 in L2 covers 0x10_0000
        long desc = mem.readLong(slot);
        assertThat(desc & ArmLpaePageTable.TYPE_MASK).isEqualTo(ArmLpaePageTable.TYPE_TABLE);
        mem.writeLong(slot, (desc & ~ArmLpaePageTable.TYPE_MASK) | 0x2);
        // iova_to_phys stops there (not a table to it); map and unmap walk through it as the kernel does
        assertThat(t.iovaToPhys(0x10_0000L)).isZero();
        assertThat(map(t, 0x10_1000L, 0x20_1000L, SZ_4K)).isZero();
        assertThat(t.unmapPages(0x10_0000L, SZ_4K, 1, null)).isEqualTo(SZ_4K);
        mem.writeLong(slot, desc);
        assertThat(t.iovaToPhys(0x10_1000L)).isEqualTo(0x20_1000L);
        assertThat(t.iovaToPhys(0x10_0000L)).isZero();
    }

    @Test
    @DisplayName("a 64K page at a 52-bit output address: PA[51:48] folds into bits 15:12 (paddr_to_iopte)")
    void pa52() {
        ArmLpaePageTable t = table(BITMAP_64K, 52, 52);
        long pa = 0xA_BCDE_0001_0000L; // bits 51:48 = 0xA
        assertThat(map(t, 0x20_0000L, pa, SZ_64K)).isZero();
        assertThat(t.iovaToPhys(0x20_0123L)).isEqualTo(pa | 0x123);
        long[] leaf = new long[1];
        t.walk((lvl, iova, size, pte, isLeaf) -> {
            if (isLeaf) {
                leaf[0] = pte;
            }
        });
        assertThat(leaf[0] & ArmLpaePageTable.ADDR_MASK).isEqualTo(0xBCDE_0001_0000L | (0xAL << 12));
        assertThat(t.unmapPages(0x20_0000L, SZ_64K, 1, null)).isEqualTo(SZ_64K);
        assertThat(t.iovaToPhys(0x20_0000L)).isZero();
        assertThat(warnings.seen).isEmpty();
    }

    /** The leaf descriptor the table holds for {@code iova} (0 if none). */
    private static long leafAt(ArmLpaePageTable t, long iova) {
        long[] leaf = new long[1];
        t.walk((lvl, at, size, pte, isLeaf) -> {
            if (isLeaf && at == iova) {
                leaf[0] = pte;
            }
        });
        return leaf[0];
    }

    @Test
    @DisplayName("2M and 1G blocks under existing tables: block descriptors (type 01), as the general walk writes them")
    void blocksUnderTables() {
        ArmLpaePageTable t = table(BITMAP_4K, 48, 48);
        // the first block of each size builds its tables through the general walk, the second
        // finds them and takes the short one: both descriptors must be the kernel's
        assertThat(map(t, 0x4000_0000L, 0x8000_0000L, SZ_2M)).isZero();
        assertThat(map(t, 0x4020_0000L, 0x8020_0000L, SZ_2M)).isZero();
        assertThat(mapped.bytes).isEqualTo(SZ_2M);
        assertThat(leafAt(t, 0x4000_0000L)).isEqualTo(0x8000_0000L | 0xE41L);
        assertThat(leafAt(t, 0x4020_0000L)).isEqualTo(0x8020_0000L | 0xE41L);
        assertThat(map(t, 0x80_0000_0000L, 0x1_0000_0000L, SZ_1G)).isZero();
        assertThat(map(t, 0x80_4000_0000L, 0x1_4000_0000L, SZ_1G)).isZero();
        assertThat(mapped.bytes).isEqualTo(SZ_1G);
        assertThat(leafAt(t, 0x80_4000_0000L)).isEqualTo(0x1_4000_0000L | 0xE41L);
        assertThat(t.iovaToPhys(0x4021_2345L)).isEqualTo(0x8021_2345L);
        assertThat(t.iovaToPhys(0x80_4123_4567L)).isEqualTo(0x1_4123_4567L);
        // an occupied block slot: -EEXIST, the block stays
        assertThat(map(t, 0x4020_0000L, 0x9000_0000L, SZ_2M)).isEqualTo(Errno.EEXIST.neg());
        assertThat(t.iovaToPhys(0x4020_0000L)).isEqualTo(0x8020_0000L);
        assertThat(t.unmapPages(0x4020_0000L, SZ_2M, 1, new IotlbGather())).isEqualTo(SZ_2M);
        assertThat(warnings.seen).hasSize(1);
        assertThat(tlb.violations).isEmpty();
    }

    @Test
    @DisplayName("a 2M block where a table of 4K pages is: the general walk replaces the table, as io-pgtable-arm does")
    void blockOverTable() {
        ArmLpaePageTable t = table(BITMAP_4K, 48, 48);
        assertThat(map(t, 0x4000_0000L, 0x8000_0000L, SZ_2M)).isZero(); // builds L1 and L2
        assertThat(map(t, 0x4020_3000L, 0x9000_3000L, SZ_4K)).isZero(); // an L3 table under the next 2M
        assertThat(map(t, 0x4020_0000L, 0xA000_0000L, SZ_2M)).isZero();
        assertThat(leafAt(t, 0x4020_0000L)).isEqualTo(0xA000_0000L | 0xE41L);
        assertThat(t.iovaToPhys(0x4020_3000L)).isEqualTo(0xA000_3000L);
    }

    @Test
    @DisplayName("a pgsize of two sizes (4K|2M, both in the bitmap): -EINVAL with the WARN, nothing mapped")
    void twoSizesAtOnce() {
        ArmLpaePageTable t = table(BITMAP_4K, 48, 48);
        assertThat(map(t, 0x4000_0000L, 0x8000_0000L, SZ_2M)).isZero();
        assertThat(map(t, 0x4020_0000L, 0x8020_0000L, SZ_2M | SZ_4K)).isEqualTo(Errno.EINVAL.neg());
        assertThat(mapped.bytes).isZero();
        assertThat(t.iovaToPhys(0x4020_0000L)).isZero();
        assertThat(warnings.seen).hasSize(1);
    }
}
