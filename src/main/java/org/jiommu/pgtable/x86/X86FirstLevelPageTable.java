package org.jiommu.pgtable.x86;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;

/**
 * The x86-64 4- and 5-level page table: generic_pt's {@code x86_64} format (Intel SDM vol. 3
 * 4.4; VT-d spec 9.7 first-stage entries; HARDWARE.md 2.5). VT-d uses it for first-stage
 * translation, and it is also the shape of a process page table, so SVA code can build an mm's
 * table with {@link #mapPagesWithAttributes}.
 *
 * <p>Entries: P bit 0, R/W bit 1, U/S bit 2, PWT 3, PCD 4, A bit 5, D bit 6, PS bit 7 on 2M/1G
 * leaves, G bit 8, address bits 51:12, XD bit 63. A leaf mapped through the IOMMU API is
 * {@code P | U/S | A} plus {@code R/W | D} when writable (x86_64_pt_iommu_set_prot: a read-only
 * 4K page at 0x8000_0000 is 0x8000_0025, a writable one 0x8000_0067). {@code IOMMU_NOEXEC},
 * {@code CACHE}, {@code MMIO} and {@code PRIV} change nothing; XD is never set by that path.
 * A non-leaf entry is {@code table PA | P | R/W | U/S | A} (x86_64_pt_install_table).
 */
public final class X86FirstLevelPageTable extends X86RadixPageTable {

    public static final long P = 1L << 0;
    public static final long RW = 1L << 1;
    public static final long US = 1L << 2;
    public static final long PWT = 1L << 3;
    public static final long PCD = 1L << 4;
    public static final long A = 1L << 5;
    public static final long D = 1L << 6;
    public static final long G = 1L << 8;
    public static final long XD = 1L << 63;
    /** The leaf bits a caller of {@link #mapPagesWithAttributes} may choose. */
    public static final long LEAF_ATTRIBUTES = RW | US | PWT | PCD | A | D | G | XD;

    private X86FirstLevelPageTable(Config c) {
        super(c, P, P | RW | US | A);
    }

    /** A 4- or 5-level table of every page size, full width, no sign extension, 52-bit output. */
    public static X86FirstLevelPageTable create(FrameAllocator allocator, int levels) {
        return builder(allocator).levels(levels).build();
    }

    public static Builder builder(FrameAllocator allocator) {
        return new Builder(allocator);
    }

    @Override
    public PgtableFormat format() {
        return PgtableFormat.X86_64_FIRST_LEVEL;
    }

    /** The PASID entry's FLPM (first-level paging mode): 0 for 4 levels, 1 for 5. */
    public int flpm() {
        return levels - 4;
    }

    @Override
    int checkProt(int prot) {
        return 0;
    }

    @Override
    long leafAttributes(int prot) {
        long bits = P | US | A;
        if ((prot & Prot.WRITE) != 0) {
            bits |= RW | D;
        }
        return bits;
    }

    /**
     * Maps like {@link #mapPages} but with the leaf attribute bits given directly (P, PS and
     * the address are added): the way a process page table gets user, execute-disable,
     * caching or global attributes the IOMMU API cannot express. Same errnos as mapPages;
     * bits outside {@link #LEAF_ATTRIBUTES} are {@code -EINVAL}.
     */
    public int mapPagesWithAttributes(long iova, long paddr, long pgsize, long pgcount, long attributes,
                                      Mapped mapped) {
        if ((attributes & ~LEAF_ATTRIBUTES) != 0) {
            return Errno.EINVAL.neg();
        }
        if ((paddr >>> oaBits) != 0) {
            return Errno.ERANGE.neg();
        }
        return map(iova, paddr, pgsize, pgcount, attributes | P, mapped);
    }

    /** Collects the configuration; {@link #build} validates it and allocates the top table. */
    public static final class Builder extends CommonBuilder<Builder> {
        private int levels = 4;
        private int vaBits;

        private Builder(FrameAllocator allocator) {
            super(allocator);
        }

        @Override
        Builder self() {
            return this;
        }

        /** 4 (48-bit) or 5 (57-bit) levels (pt_iommu_x86_64_cfg.top_level 3 or 4); default 4. */
        public Builder levels(int levels) {
            this.levels = levels;
            return this;
        }

        /**
         * Input width when smaller than the levels resolve (e.g. 47 or 56 for AMD's PASID 0
         * tables, or MGAW); default the full 48 / 57 bits.
         */
        public Builder inputWidth(int bits) {
            this.vaBits = bits;
            return this;
        }

        /**
         * PT_FEAT_SIGN_EXTEND: addresses are canonical (bits above the width copy its top bit)
         * and the top table's upper half holds the upper half of the address space, as in a
         * process page table. Needs the full width. Default off.
         */
        public Builder signExtend(boolean on) {
            c.signExtend = on;
            return this;
        }

        public X86FirstLevelPageTable build() {
            if (levels != 4 && levels != 5) {
                // x86_64_pt_iommu_fmt_init: top_level must be 3 or 4
                throw new IommuException(Errno.EOPNOTSUPP, "x86-64 tables have 4 or 5 levels, not " + levels);
            }
            c.levels = levels;
            c.vaBits = vaBits != 0 ? vaBits : coverage(levels);
            c.validate("x86-64 first-level table");
            return new X86FirstLevelPageTable(c);
        }
    }
}
