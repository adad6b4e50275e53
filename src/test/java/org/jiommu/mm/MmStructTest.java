package org.jiommu.mm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.x86.X86FirstLevelPageTable;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The mm over its CPU format: x86-64 leaves and widths, and a teardown that gives every frame back. */
class MmStructTest {
    private static FrameAllocator frames() {
        return new FrameAllocator(new PhysicalMemory(1L << 30));
    }

    /** The 4K leaf the table holds for {@code va}, read from memory as the IOMMU walker would. */
    private static long pte(MmStruct mm, long va, FrameAllocator f) {
        long table = mm.pgd().root();
        for (int level = mm.levels(); level > 1; level--) {
            int shift = 12 + 9 * (level - 1);
            table = f.memory().readLong(table + ((va >>> shift) & 0x1ff) * 8) & X86FirstLevelPageTable.OA_MASK;
        }
        return f.memory().readLong(table + ((va >>> 12) & 0x1ff) * 8);
    }

    @Test
    @DisplayName("default mm: x86-64, 4 levels, 47-bit user space; LA57 gives 57 bits; 3 levels is refused")
    void formatAndWidths() {
        FrameAllocator f = frames();
        MmStruct mm = new MmStruct("p", f);
        assertThat(mm.format()).isEqualTo(CpuFormat.X86_64);
        assertThat(mm.levels()).isEqualTo(4);
        assertThat(mm.taskSize()).isEqualTo(1L << 47);
        MmStruct la57 = new MmStruct("q", f, CpuFormat.X86_64, 5);
        assertThat(la57.levels()).isEqualTo(5);
        assertThat(la57.taskSize()).isEqualTo(1L << 56);
        assertThatThrownBy(() -> new MmStruct("r", f, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MmStruct("s", f, null, 4)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("a fault installs the x86 user leaf: P|U/S|A, +R/W|D when writable, +XD when not executable")
    void userLeafBits() {
        FrameAllocator f = frames();
        MmStruct mm = new MmStruct("p", f);
        mm.mmap(0x40_0000L, 0x1000, Prot.READ);
        mm.mmap(0x50_0000L, 0x1000, Prot.RW | Prot.NOEXEC);
        assertThat(mm.handleMmFault(0x40_0000L, false, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        assertThat(mm.handleMmFault(0x50_0000L, true, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        long ro = pte(mm, 0x40_0000L, f);
        long rw = pte(mm, 0x50_0000L, f);
        assertThat(ro & ~X86FirstLevelPageTable.OA_MASK).isEqualTo(0x25L); // P | U/S | A
        assertThat(rw & ~X86FirstLevelPageTable.OA_MASK).isEqualTo(0x8000_0000_0000_0067L); // + R/W | D, XD
        assertThat(ro & X86FirstLevelPageTable.OA_MASK).isEqualTo(mm.translate(0x40_0000L));
    }

    @Test
    @DisplayName("exit and mmdrop give back every page and table the mm ever took")
    void teardownFreesEverything() {
        FrameAllocator f = frames();
        long base = f.stats().liveBlocks();
        MmStruct mm = new MmStruct("p", f);
        mm.mmap(0x40_0000L, 0x10_0000L, Prot.RW);
        for (long va = 0x40_0000L; va < 0x50_0000L; va += 0x4000) {
            assertThat(mm.handleMmFault(va, true, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        }
        assertThat(f.stats().liveBlocks()).isGreaterThan(base + 4);
        mm.munmap(0x40_0000L, 0x8000);
        assertThat(mm.translate(0x40_0000L)).isZero();
        mm.exit();
        assertThat(f.stats().liveBlocks()).isEqualTo(base + 1); // the top table lives until mmdrop
        mm.mmdrop();
        assertThat(f.stats().liveBlocks()).isEqualTo(base);
    }
}
