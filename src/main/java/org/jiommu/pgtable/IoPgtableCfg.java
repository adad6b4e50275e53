package org.jiommu.pgtable;

import java.util.Objects;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;

/**
 * What a driver asks of a page-table format, for every format: the common part of the kernel's
 * {@code struct io_pgtable_cfg} (page sizes, input and output widths, quirks, walk coherency),
 * plus where the table pages come from and where WARNs go (the kernel's {@code iommu_dev} and
 * {@code alloc} / {@code free} hooks). The generic_pt feature bits of the x86 formats
 * ({@code PT_FEAT_*}) travel as {@link #features()}. Handed to {@link IoPageTables#alloc}.
 *
 * <p>Immutable; a 0 width or page-size bitmap means "the format's default".
 */
public final class IoPgtableCfg {
    /** {@code PT_FEAT_SIGN_EXTEND}: canonical addresses, upper half in the top table (x86 first level). */
    public static final int FEAT_SIGN_EXTEND = 1 << 0;
    /** {@code PT_FEAT_VTDSS_FORCE_COHERENCE} from the start (VT-d second level). */
    public static final int FEAT_VTDSS_FORCE_COHERENCE = 1 << 1;
    /** {@code PT_FEAT_VTDSS_FORCE_WRITEABLE} (VT-d second level, SPR17 erratum). */
    public static final int FEAT_VTDSS_FORCE_WRITEABLE = 1 << 2;
    /** {@code CONFIG_DEBUG_GENERIC_PT}: every leaf's size checked (x86 formats). */
    public static final int FEAT_DEBUG_CHECKS = 1 << 3;

    private final FrameAllocator frames;
    private final WarningSink warnings;
    private final long pgsizeBitmap;
    private final int ias;
    private final int oas;
    private final int quirks;
    private final boolean coherentWalk;
    private final int features;

    private IoPgtableCfg(Builder b) {
        this.frames = b.frames;
        this.warnings = b.warnings;
        this.pgsizeBitmap = b.pgsizeBitmap;
        this.ias = b.ias;
        this.oas = b.oas;
        this.quirks = b.quirks;
        this.coherentWalk = b.coherentWalk;
        this.features = b.features;
    }

    /** A config drawing table pages from {@code frames}; coherent walk, no quirks, WARNs ignored. */
    public static Builder builder(FrameAllocator frames) {
        return new Builder(frames);
    }

    public FrameAllocator frames() {
        return frames;
    }

    public WarningSink warnings() {
        return warnings;
    }

    /** {@code pgsize_bitmap}: the page sizes the IOMMU supports (bit n = 2^n bytes); 0 = format default. */
    public long pgsizeBitmap() {
        return pgsizeBitmap;
    }

    /** {@code ias}: input address bits; 0 = format default. */
    public int ias() {
        return ias;
    }

    /** {@code oas}: output address bits; 0 = format default. */
    public int oas() {
        return oas;
    }

    /** {@code quirks}: the ARM formats' {@code IO_PGTABLE_QUIRK_*} bits. */
    public int quirks() {
        return quirks;
    }

    /** {@code coherent_walk}: the walker snoops CPU caches. */
    public boolean coherentWalk() {
        return coherentWalk;
    }

    /** The x86 formats' generic_pt feature bits ({@code FEAT_*} here). */
    public int features() {
        return features;
    }

    boolean has(int feature) {
        return (features & feature) != 0;
    }

    /** Collects a config; {@link #build} needs only the frame allocator. */
    public static final class Builder {
        private final FrameAllocator frames;
        private WarningSink warnings = WarningSink.IGNORE;
        private long pgsizeBitmap;
        private int ias;
        private int oas;
        private int quirks;
        private boolean coherentWalk = true;
        private int features;

        private Builder(FrameAllocator frames) {
            this.frames = Objects.requireNonNull(frames, "frames");
        }

        public Builder warnings(WarningSink sink) {
            this.warnings = Objects.requireNonNull(sink, "warnings");
            return this;
        }

        public Builder pgsizeBitmap(long bitmap) {
            this.pgsizeBitmap = bitmap;
            return this;
        }

        public Builder ias(int bits) {
            this.ias = bits;
            return this;
        }

        public Builder oas(int bits) {
            this.oas = bits;
            return this;
        }

        public Builder quirks(int quirks) {
            this.quirks = quirks;
            return this;
        }

        public Builder coherentWalk(boolean on) {
            this.coherentWalk = on;
            return this;
        }

        public Builder features(int features) {
            this.features = features;
            return this;
        }

        public IoPgtableCfg build() {
            return new IoPgtableCfg(this);
        }
    }
}
