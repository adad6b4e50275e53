package org.jiommu.pgtable.arm;

import java.util.Objects;
import java.util.StringJoiner;
import org.jiommu.pgtable.PgtableFormat;

/**
 * The ARM LPAE part of the kernel's {@code struct io_pgtable_cfg}: what a driver asks for
 * (format, page sizes, address widths, quirks, walk coherency) and, once
 * {@link ArmLpaePageTable#alloc} has run, what the format hands back (the restricted page
 * sizes and widths, the geometry, TCR or VTCR fields, MAIR and TTBR).
 *
 * <p>Immutable: unlike the kernel, which rewrites the driver's cfg in place, allocation returns
 * a new config ({@link ArmLpaePageTable#config()}) with the outputs filled in.
 */
public final class ArmLpaeConfig {
    /** {@code IO_PGTABLE_QUIRK_ARM_NS}: NS in leaves, NSTable in table descriptors (stage 1). */
    public static final int QUIRK_ARM_NS = 1 << 0;
    /** {@code IO_PGTABLE_QUIRK_ARM_TTBR1}: the table serves the upper half of the VA space. */
    public static final int QUIRK_ARM_TTBR1 = 1 << 5;
    /** {@code IO_PGTABLE_QUIRK_ARM_OUTER_WBWA}: outer-cacheable walks for a non-coherent walker. */
    public static final int QUIRK_ARM_OUTER_WBWA = 1 << 6;
    /** {@code IO_PGTABLE_QUIRK_ARM_HD}: hardware dirty tracking, DBM in writable stage-1 leaves. */
    public static final int QUIRK_ARM_HD = 1 << 7;
    /** {@code IO_PGTABLE_QUIRK_ARM_S2FWB}: stage-2 MemAttr uses the FEAT_S2FWB encoding. */
    public static final int QUIRK_ARM_S2FWB = 1 << 8;
    /** {@code IO_PGTABLE_QUIRK_NO_WARN}: no WARN for -EEXIST maps and unmaps of holes. */
    public static final int QUIRK_NO_WARN = 1 << 9;

    /** Quirks {@code arm_64_lpae_alloc_pgtable_s1} accepts. */
    public static final int S1_QUIRKS = QUIRK_ARM_NS | QUIRK_ARM_TTBR1 | QUIRK_ARM_OUTER_WBWA | QUIRK_ARM_HD
            | QUIRK_NO_WARN;
    /** Quirks {@code arm_64_lpae_alloc_pgtable_s2} accepts. */
    public static final int S2_QUIRKS = QUIRK_ARM_S2FWB | QUIRK_NO_WARN;

    // TCR / VTCR field codes (io-pgtable-arm.h).
    public static final int TCR_SH_NS = 0;
    public static final int TCR_SH_OS = 2;
    public static final int TCR_SH_IS = 3;
    public static final int TCR_RGN_NC = 0;
    public static final int TCR_RGN_WBWA = 1;
    public static final int TCR_RGN_WT = 2;
    public static final int TCR_RGN_WB = 3;
    public static final int TCR_TG0_4K = 0;
    public static final int TCR_TG0_64K = 1;
    public static final int TCR_TG0_16K = 2;
    public static final int TCR_TG1_16K = 1;
    public static final int TCR_TG1_4K = 2;
    public static final int TCR_TG1_64K = 3;

    /** The kernel's CPU page size on the machines jiommu models (arm64 4K kernels, x86). */
    public static final long DEFAULT_CPU_PAGE_SIZE = 0x1000;

    private final PgtableFormat format;
    private final long pgsizeBitmap;
    private final int ias;
    private final int oas;
    private final int quirks;
    private final boolean coherentWalk;
    private final long cpuPageSize;

    // Outputs: null / 0 until allocated.
    private final Geometry geometry;
    private final Tcr tcr;
    private final Vtcr vtcr;
    private final long mair;
    private final long ttbr;

    private ArmLpaeConfig(Builder b) {
        this(b.format, b.pgsizeBitmap, b.ias, b.oas, b.quirks, b.coherentWalk, b.cpuPageSize, null, null, null, 0, 0);
    }

    ArmLpaeConfig(PgtableFormat format, long pgsizeBitmap, int ias, int oas, int quirks, boolean coherentWalk,
                  long cpuPageSize, Geometry geometry, Tcr tcr, Vtcr vtcr, long mair, long ttbr) {
        this.format = format;
        this.pgsizeBitmap = pgsizeBitmap;
        this.ias = ias;
        this.oas = oas;
        this.quirks = quirks;
        this.coherentWalk = coherentWalk;
        this.cpuPageSize = cpuPageSize;
        this.geometry = geometry;
        this.tcr = tcr;
        this.vtcr = vtcr;
        this.mair = mair;
        this.ttbr = ttbr;
    }

    /** A builder for {@code format} with the kernel selftest's defaults: coherent walk, no quirks. */
    public static Builder builder(PgtableFormat format) {
        return new Builder(format);
    }

    /** A builder holding this config's inputs (outputs are dropped). */
    public Builder toBuilder() {
        return new Builder(format).pgsizeBitmap(pgsizeBitmap).ias(ias).oas(oas).quirks(quirks)
                .coherentWalk(coherentWalk).cpuPageSize(cpuPageSize);
    }

    public PgtableFormat format() {
        return format;
    }

    public boolean isStage1() {
        return format == PgtableFormat.ARM_64_LPAE_S1;
    }

    /** Requested page sizes; after allocation, the sizes the chosen granule supports. */
    public long pgsizeBitmap() {
        return pgsizeBitmap;
    }

    /** Input address bits; after allocation, clamped to 48 (52 with a 64K granule). */
    public int ias() {
        return ias;
    }

    /** Output address bits; after allocation, clamped like {@link #ias()}. */
    public int oas() {
        return oas;
    }

    public int quirks() {
        return quirks;
    }

    public boolean hasQuirk(int quirk) {
        return (quirks & quirk) != 0;
    }

    /** True if the IOMMU snoops CPU caches when it walks the tables ({@code cfg->coherent_walk}). */
    public boolean coherentWalk() {
        return coherentWalk;
    }

    /** The CPU {@code PAGE_SIZE} the granule choice prefers ({@code arm_lpae_restrict_pgsizes}). */
    public long cpuPageSize() {
        return cpuPageSize;
    }

    /** True once this config describes an allocated table (outputs are set). */
    public boolean isAllocated() {
        return geometry != null;
    }

    /** The table's shape; null before allocation. */
    public Geometry geometry() {
        return geometry;
    }

    /** Stage-1 TCR fields ({@code cfg->arm_lpae_s1_cfg.tcr}); null for stage 2 or before allocation. */
    public Tcr tcr() {
        return tcr;
    }

    /** Stage-2 VTCR fields ({@code cfg->arm_lpae_s2_cfg.vtcr}); null for stage 1 or before allocation. */
    public Vtcr vtcr() {
        return vtcr;
    }

    /** Stage-1 MAIR ({@code cfg->arm_lpae_s1_cfg.mair}) exactly as the kernel computes it; 0 for stage 2. */
    public long mair() {
        return mair;
    }

    /** Physical address of the PGD: TTBR for stage 1, VTTBR for stage 2 (no ASID/VMID). */
    public long ttbr() {
        return ttbr;
    }

    /** Kernel names of the quirk bits, lowest bit first, joined by {@code |}; {@code 0} for none. */
    public static String quirkNames(int quirks) {
        StringJoiner j = new StringJoiner("|");
        for (int bit = 0; bit < 32; bit++) {
            int q = 1 << bit;
            if ((quirks & q) != 0) {
                j.add(quirkName(q));
            }
        }
        return j.length() == 0 ? "0" : j.toString();
    }

    private static String quirkName(int q) {
        switch (q) {
            case QUIRK_ARM_NS: return "ARM_NS";
            case QUIRK_ARM_TTBR1: return "ARM_TTBR1";
            case QUIRK_ARM_OUTER_WBWA: return "ARM_OUTER_WBWA";
            case QUIRK_ARM_HD: return "ARM_HD";
            case QUIRK_ARM_S2FWB: return "ARM_S2FWB";
            case QUIRK_NO_WARN: return "NO_WARN";
            default: return "BIT(" + Integer.numberOfTrailingZeros(q) + ")";
        }
    }

    /** The quirk bit with this kernel name ({@code ARM_NS}, {@code NS}, case-insensitive); 0 if unknown. */
    public static int quirkByName(String name) {
        String n = name.toUpperCase(java.util.Locale.ROOT);
        if (n.startsWith("IO_PGTABLE_QUIRK_")) {
            n = n.substring("IO_PGTABLE_QUIRK_".length());
        }
        if (!n.startsWith("ARM_") && !n.equals("NO_WARN")) {
            n = "ARM_" + n;
        }
        switch (n) {
            case "ARM_NS": return QUIRK_ARM_NS;
            case "ARM_TTBR1": return QUIRK_ARM_TTBR1;
            case "ARM_OUTER_WBWA": return QUIRK_ARM_OUTER_WBWA;
            case "ARM_HD": return QUIRK_ARM_HD;
            case "ARM_S2FWB": return QUIRK_ARM_S2FWB;
            case "NO_WARN": return QUIRK_NO_WARN;
            default: return 0;
        }
    }

    @Override
    public String toString() {
        return String.format("%s pgsize_bitmap=%#x ias=%d oas=%d quirks=%s coherent_walk=%d%s", format,
                pgsizeBitmap, ias, oas, quirkNames(quirks), coherentWalk ? 1 : 0,
                geometry == null ? "" : " " + geometry);
    }

    /** Inputs for {@link ArmLpaePageTable#alloc}. */
    public static final class Builder {
        private final PgtableFormat format;
        private long pgsizeBitmap;
        private int ias;
        private int oas;
        private int quirks;
        private boolean coherentWalk = true;
        private long cpuPageSize = DEFAULT_CPU_PAGE_SIZE;

        private Builder(PgtableFormat format) {
            this.format = Objects.requireNonNull(format, "format");
        }

        /** Page sizes the IOMMU supports (bit n = 2^n bytes); the format keeps one granule's. */
        public Builder pgsizeBitmap(long bitmap) {
            this.pgsizeBitmap = bitmap;
            return this;
        }

        public Builder ias(int ias) {
            this.ias = ias;
            return this;
        }

        public Builder oas(int oas) {
            this.oas = oas;
            return this;
        }

        /** Replaces the quirk set ({@code QUIRK_*} bits). */
        public Builder quirks(int quirks) {
            this.quirks = quirks;
            return this;
        }

        /** Adds quirk bits. */
        public Builder quirk(int quirk) {
            this.quirks |= quirk;
            return this;
        }

        public Builder coherentWalk(boolean coherent) {
            this.coherentWalk = coherent;
            return this;
        }

        public Builder cpuPageSize(long pageSize) {
            this.cpuPageSize = pageSize;
            return this;
        }

        public ArmLpaeConfig build() {
            return new ArmLpaeConfig(this);
        }
    }

    /**
     * The table's shape ({@code struct arm_lpae_io_pgtable}): levels are numbered 0..3 with 3 the
     * page level; the top table resolves {@code pgdBits} bits, every other table
     * {@code bitsPerLevel} (HARDWARE.md 1.1, after stage-2 concatenation 1.2).
     */
    public record Geometry(int granuleShift, int startLevel, int bitsPerLevel, int pgdBits) {
        public long granule() {
            return 1L << granuleShift;
        }

        /** Levels walked: {@code 4 - startLevel}. */
        public int levels() {
            return 4 - startLevel;
        }

        /** {@code ARM_LPAE_PGD_SIZE}: bytes of the top table, before the 64-byte minimum. */
        public long pgdSize() {
            return 8L << pgdBits;
        }

        /** Granule-sized tables the PGD is made of (more than 1 only for a concatenated stage-2 PGD). */
        public int concatTables() {
            return pgdBits > bitsPerLevel ? 1 << (pgdBits - bitsPerLevel) : 1;
        }

        /** {@code ARM_LPAE_LVL_SHIFT}: the lowest IOVA bit the index at {@code level} uses. */
        public int levelShift(int level) {
            return (4 - level) * bitsPerLevel + 3;
        }

        /** {@code ARM_LPAE_BLOCK_SIZE}: bytes one descriptor at {@code level} covers. */
        public long blockSize(int level) {
            return 1L << levelShift(level);
        }

        /** Index bits of a table at {@code level}. */
        public int indexBits(int level) {
            return level == startLevel ? pgdBits : bitsPerLevel;
        }

        /** {@code ARM_LPAE_LVL_IDX}: the index of {@code iova} in the table at {@code level}. */
        public int index(long iova, int level) {
            return (int) ((iova >>> levelShift(level)) & ((1L << indexBits(level)) - 1));
        }

        @Override
        public String toString() {
            return String.format("start_level=%d levels=%d bits_per_level=%d pgd_bits=%d pgd_size=%#x"
                    + " pgd_concat_tables=%d", startLevel, levels(), bitsPerLevel, pgdBits, pgdSize(), concatTables());
        }
    }

    /** Stage-1 TCR fields, in the kernel's struct order. */
    public record Tcr(int ips, int tg, int sh, int orgn, int irgn, int tsz) {
        @Override
        public String toString() {
            return String.format("ips=%d tg=%d sh=%d orgn=%d irgn=%d tsz=%d", ips, tg, sh, orgn, irgn, tsz);
        }
    }

    /** Stage-2 VTCR fields, in the kernel's struct order; {@code sl} is already the SL0 encoding. */
    public record Vtcr(int ps, int tg, int sh, int orgn, int irgn, int sl, int tsz) {
        @Override
        public String toString() {
            return String.format("ps=%d tg=%d sh=%d orgn=%d irgn=%d sl=%d tsz=%d", ps, tg, sh, orgn, irgn, sl, tsz);
        }
    }
}
