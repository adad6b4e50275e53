package org.jiommu.pgtable.arm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.pgtable.arm.LpaeTestSupport.BITMAP_4K;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_2M;
import static org.jiommu.pgtable.arm.LpaeTestSupport.SZ_4K;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** HARDWARE.md 1.9: read_and_clear_dirty with the ARM_HD quirk. */
class ArmLpaeDirtyTest {
    private static final long AP_RDONLY = 1L << 7;

    private final FrameAllocator frames = LpaeTestSupport.frames();
    private final LpaeTestSupport.Warnings warnings = new LpaeTestSupport.Warnings();
    private final List<long[]> dirty = new ArrayList<>();

    private ArmLpaePageTable table(PgtableFormat f, int quirks) {
        return ArmLpaePageTable.alloc(LpaeTestSupport.cfg(f, BITMAP_4K, 48, 48).quirks(quirks).build(), frames,
                TlbOps.NONE, warnings);
    }

    private void record(long iova, long size) {
        dirty.add(new long[] {iova, size});
    }

    private long slotOf(ArmLpaePageTable t, long iova) {
        long[] found = {0};
        // The L3 table PA comes from the L2 table descriptor covering iova.
        t.walk((level, va, size, pte, leaf) -> {
            if (!leaf && level == 2 && va == (iova & -SZ_2M)) {
                found[0] = (pte & 0x0000_FFFF_FFFF_F000L) + 8 * ((iova >>> 12) & 511);
            }
        });
        return found[0];
    }

    @Test
    @DisplayName("1.9 HD: writable leaves start dirty; read-and-clear re-arms them; a hardware write makes one dirty again")
    void dirtyCycle() {
        ArmLpaePageTable t = table(PgtableFormat.ARM_64_LPAE_S1, ArmLpaeConfig.QUIRK_ARM_HD);
        Mapped m = new Mapped();
        assertThat(t.mapPages(0x10000, 0x80000, SZ_4K, 4, Prot.RW, m)).isZero();
        assertThat(t.mapPages(0x14000, 0x90000, SZ_4K, 1, Prot.READ, m)).isZero();

        assertThat(t.readAndClearDirty(0x10000, 5 * SZ_4K, true, this::record)).isZero();
        assertThat(dirty).hasSize(4);
        dirty.clear();
        assertThat(t.readAndClearDirty(0x10000, 5 * SZ_4K, false, this::record)).isZero();
        assertThat(dirty).as("NO_CLEAR kept them dirty").extracting(r -> r[0]).containsExactly(0x10000L, 0x11000L, 0x12000L, 0x13000L);
        dirty.clear();
        assertThat(t.readAndClearDirty(0x10000, 5 * SZ_4K, false, this::record)).isZero();
        assertThat(dirty).as("re-armed").isEmpty();

        long slot = slotOf(t, 0x12000);
        long pte = frames.memory().readLong(slot);
        assertThat(pte & AP_RDONLY).isNotZero();
        frames.memory().writeLong(slot, pte & ~AP_RDONLY); // the SMMU's dirty update
        assertThat(t.readAndClearDirty(0x10000, 5 * SZ_4K, false, this::record)).isZero();
        assertThat(dirty).singleElement().satisfies(r -> assertThat(r).containsExactly(0x12000L, SZ_4K));
        assertThat(t.iovaToPhys(0x12345)).isEqualTo(0x82345);
    }

    @Test
    @DisplayName("1.9 read_and_clear_dirty: -EINVAL for stage 2, size 0 (WARN), beyond the IAS (WARN), a hole")
    void errors() {
        ArmLpaePageTable s2 = table(PgtableFormat.ARM_64_LPAE_S2, 0);
        assertThat(s2.readAndClearDirty(0, SZ_4K, false, this::record)).isEqualTo(Errno.EINVAL.neg());
        ArmLpaePageTable t = table(PgtableFormat.ARM_64_LPAE_S1, ArmLpaeConfig.QUIRK_ARM_HD);
        assertThat(t.readAndClearDirty(0, 0, false, this::record)).isEqualTo(Errno.EINVAL.neg());
        assertThat(t.readAndClearDirty((1L << 48) - SZ_4K, 2 * SZ_4K, false, this::record))
                .isEqualTo(Errno.EINVAL.neg());
        assertThat(warnings.seen).hasSize(2);
        Mapped m = new Mapped();
        assertThat(t.mapPages(0, 0, SZ_4K, 1, Prot.RW, m)).isZero();
        assertThat(t.readAndClearDirty(0, 2 * SZ_4K, false, this::record)).as("hole at 0x1000")
                .isEqualTo(Errno.EINVAL.neg());
        assertThat(dirty).as("what came before the hole is reported").hasSize(1);
    }

    @Test
    @DisplayName("1.9 without HD no leaf is ever dirty")
    void noHd() {
        ArmLpaePageTable t = table(PgtableFormat.ARM_64_LPAE_S1, 0);
        Mapped m = new Mapped();
        assertThat(t.mapPages(0, 0, SZ_2M, 1, Prot.RW, m)).isZero();
        assertThat(t.readAndClearDirty(0, SZ_2M, false, this::record)).isZero();
        assertThat(dirty).isEmpty();
    }
}
