package org.jiommu.pgtable.x86;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.PgtableFormat;

/**
 * Intel VT-d second-level (second-stage) page table: generic_pt's {@code vtdss} format
 * (VT-d spec 3.7, 9.8; HARDWARE.md 2.1, 2.5). 3, 4 or 5 levels for 39, 48 or 57-bit input
 * addresses; leaves of 4 KiB, 2 MiB and 1 GiB.
 *
 * <p>Entries: R bit 0, W bit 1, PS bit 7 on 2M/1G leaves, SNP bit 11 on leaves when the table
 * forces coherency, address bits 51:12. A non-leaf entry is {@code table PA | R | W}. The format
 * has no present bit: the hardware treats an entry with R = W = 0 as not present
 * ({@link #isPresent}); software (vtdss_pt_load_entry_raw) treats any non-zero entry as in use.
 * Every entry this code writes has R or W, so the two views agree.
 *
 * <p>{@code IOMMU_CACHE}, {@code NOEXEC}, {@code MMIO} and {@code PRIV} do not change a leaf
 * (vtdss_pt_iommu_set_prot looks at READ and WRITE only). SNP comes from the table-wide
 * {@code PT_FEAT_VTDSS_FORCE_COHERENCE} ({@link #enforceCacheCoherency}).
 */
public final class VtdSecondLevelPageTable extends X86RadixPageTable {

    /** Read permission; with W, what makes an entry present (VTDSS_FMT_R). */
    public static final long R = 1L << 0;
    /** Write permission (VTDSS_FMT_W). */
    public static final long W = 1L << 1;
    /** Accessed, set by hardware when SSADE is on (VTDSS_FMT_A). */
    public static final long A = 1L << 8;
    /** Dirty, set by hardware when SSADE is on (VTDSS_FMT_D). */
    public static final long D = 1L << 9;
    /** Snoop: the device access snoops the CPU caches (VTDSS_FMT_SNP). */
    public static final long SNP = 1L << 11;

    private volatile boolean forceCoherence;
    private final boolean forceWriteable;

    private VtdSecondLevelPageTable(Config c, boolean forceCoherence, boolean forceWriteable) {
        super(c, -1L, R | W);
        this.forceCoherence = forceCoherence;
        this.forceWriteable = forceWriteable;
    }

    /** A table of every page size, 52-bit output, for a 39, 48 or 57-bit input width. */
    public static VtdSecondLevelPageTable create(FrameAllocator allocator, int addressWidth) {
        return builder(allocator).addressWidth(addressWidth).build();
    }

    public static Builder builder(FrameAllocator allocator) {
        return new Builder(allocator);
    }

    /**
     * Levels for an input width (vtdss_pt_iommu_fmt_init): more than 48 bits → 5, more than 39
     * → 4, more than 30 → 3; 30 or less is not supported, more than 57 is invalid.
     */
    public static int levelsForWidth(int width) {
        if (width > 57 || width <= 0) {
            // pt_iommu_init checks the width against PT_MAX_VA_ADDRESS_LG2 before the format
            throw new IommuException(Errno.EINVAL, "VT-d second-level input width " + width + " is outside 1..57");
        }
        if (width <= 30) {
            throw new IommuException(Errno.EOPNOTSUPP, "VT-d second-level tables cover 31..57 input bits, not " + width);
        }
        return width > 48 ? 5 : width > 39 ? 4 : 3;
    }

    /** The AGAW code of an input width: levels − 2 (39 → 1, 48 → 2, 57 → 3). */
    public static int agawForWidth(int width) {
        return levelsForWidth(width) - 2;
    }

    /** The hardware's view of an entry: present iff R or W is set (VT-d 9.8). */
    public static boolean isPresent(long pte) {
        return (pte & (R | W)) != 0;
    }

    @Override
    public PgtableFormat format() {
        return PgtableFormat.VTD_SECOND_LEVEL;
    }

    /**
     * The context / PASID-entry AW field for this table: levels − 2 (vtdss_pt_iommu_fmt_hw_info,
     * "top_level − 1" in generic_pt's 0-based levels).
     */
    public int aw() {
        return levels - 2;
    }

    /**
     * Sets {@code PT_FEAT_VTDSS_FORCE_COHERENCE}: every leaf mapped from now on carries SNP.
     * The kernel sets it at creation or before the first map (the driver decides whether that
     * is still allowed; leaves already present are not rewritten).
     */
    public void enforceCacheCoherency() {
        forceCoherence = true;
    }

    public boolean forceCoherence() {
        return forceCoherence;
    }

    /** {@code PT_FEAT_VTDSS_FORCE_WRITEABLE}: read-only maps are refused (ERRATA_772415_SPR17). */
    public boolean forceWriteable() {
        return forceWriteable;
    }

    /**
     * vtdss_pt_iommu_set_prot: a read-only map on a FORCE_WRITEABLE table is -EINVAL (the kernel
     * only logs it, no WARN). Its no-R/W refusal is reached first in map_pages, which WARNs.
     */
    @Override
    int checkProt(int prot) {
        return forceWriteable && (prot & Prot.WRITE) == 0 ? Errno.EINVAL.neg() : 0;
    }

    @Override
    long leafAttributes(int prot) {
        long bits = 0;
        if ((prot & Prot.READ) != 0) {
            bits |= R;
        }
        if ((prot & Prot.WRITE) != 0) {
            bits |= W;
        }
        if (forceCoherence) {
            bits |= SNP;
        }
        return bits;
    }

    /** Collects the configuration; {@link #build} validates it and allocates the top table. */
    public static final class Builder extends CommonBuilder<Builder> {
        private int width = 48;
        private int levels;
        private boolean forceCoherence;
        private boolean forceWriteable;

        private Builder(FrameAllocator allocator) {
            super(allocator);
        }

        @Override
        Builder self() {
            return this;
        }

        /** Input address width in bits (the domain's adjusted guest width); default 48. */
        public Builder addressWidth(int bits) {
            this.width = bits;
            return this;
        }

        /** Levels (3, 4 or 5) when they should not follow from the width (pt_iommu_vtdss_cfg.top_level). */
        public Builder levels(int levels) {
            this.levels = levels;
            return this;
        }

        /** PT_FEAT_VTDSS_FORCE_COHERENCE from the start. */
        public Builder forceCoherence(boolean on) {
            this.forceCoherence = on;
            return this;
        }

        /** PT_FEAT_VTDSS_FORCE_WRITEABLE (a nesting parent on hardware with the SPR17 erratum). */
        public Builder forceWriteable(boolean on) {
            this.forceWriteable = on;
            return this;
        }

        public VtdSecondLevelPageTable build() {
            c.levels = levels != 0 ? levels : levelsForWidth(width);
            if (c.levels < 3 || c.levels > 5) {
                throw new IommuException(Errno.EOPNOTSUPP, "VT-d second-level tables have 3..5 levels, not " + c.levels);
            }
            c.vaBits = width;
            c.signExtend = false;
            c.validate("VT-d second-level table");
            return new VtdSecondLevelPageTable(c, forceCoherence, forceWriteable);
        }
    }
}
