package org.jiommu.driver.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.platform.HwEntry;

/**
 * A master that switches its own context bank's page table (the Adreno GPU of seed 002, S10):
 * its command processor, not the IOMMU driver, writes the bank's TTBR0 with a table base and the
 * bank's ASID and then invalidates that ASID (TLBIASID, TLBSYNC), as drm/msm's per-process
 * tables have the GPU do on a context switch (CP_SMMU_TABLE_UPDATE). It finds its bank as the
 * unit does, from the SMR and S2CR its stream matches. The ASID stays the bank's, so without the
 * TLBIASID the TLB keeps the previous table's translations under it ({@link #skipInvalidations}
 * plants that omission).
 */
public final class Smmuv2Gpu {
    private final Smmuv2Unit unit;
    private final int streamId;
    /** Planted: the next switches leave their TLBIASID + TLBSYNC out. Guarded by this. */
    private int skip;

    public Smmuv2Gpu(Smmuv2Unit unit, int streamId) {
        this.unit = unit;
        this.streamId = streamId;
    }

    public int streamId() {
        return streamId;
    }

    /** Plants a GPU bug: the next {@code n} switches do not invalidate the ASID. */
    public synchronized Smmuv2Gpu skipInvalidations(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative count " + n);
        }
        skip += n;
        return this;
    }

    /**
     * Points the bank the GPU's stream translates through at the table whose base is
     * {@code ttbr0} (bits 47:0), keeping the bank's ASID, then invalidates that ASID and waits.
     *
     * @return the bank switched
     * @throws UnsupportedOperationException if the stream does not translate through a stage-1 bank
     */
    public synchronized int switchTtbr0(long ttbr0) {
        HwEntry e = Smmuv2Entries.entry(unit, streamId);
        if (!(e.fields() instanceof Smmuv2Entries.Bank b)) {
            throw new UnsupportedOperationException(String.format(
                    "stream %#x does not translate through a stage-1 context bank (%s)", streamId, e));
        }
        long page = unit.cbOffset(b.cbndx());
        long asid = unit.readq(page + CB_TTBR0) & ~((1L << TTBR_ASID_SHIFT) - 1);
        unit.writeq(page + CB_TTBR0, ttbr0 & ((1L << TTBR_ASID_SHIFT) - 1) | asid);
        if (skip > 0) {
            skip--;
            return b.cbndx();
        }
        unit.writel(page + CB_TLBIASID, (int) (asid >>> TTBR_ASID_SHIFT));
        unit.writel(page + CB_TLBSYNC, 0);
        while ((unit.readl(page + CB_TLBSTATUS) & TLBSTATUS_SACTIVE) != 0) {
            Thread.onSpinWait();
        }
        return b.cbndx();
    }
}
