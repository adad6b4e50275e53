package org.jiommu.hw.arm;

import java.util.Objects;

/**
 * A stage-1 translation regime with two VA ranges, as a TCR (or an SMMUv3 context descriptor,
 * or an SMMUv2 AArch64 context bank) describes it: per range (TTBR0 below, TTBR1 above) the
 * granule, TxSZ, EPDx (walks disabled), TBIx (top byte ignored), HPDx (hierarchical
 * permissions disabled) and the table base; then IPS, MAIR and whether a clear access flag
 * faults. Immutable; the hardware model decodes its registers or descriptor into one of these
 * when its configuration cache misses, so a walk only reads fields.
 *
 * <p>TxSZ outside what the granule allows is clamped, as the Arm pseudocode does for this
 * CONSTRAINED UNPREDICTABLE case (AArch64.S1MinTxSZ / MaxTxSZ); {@link #problem()} names it so
 * a model that must reject such an entry instead (SMMUv3: ILLEGAL CD) can.
 */
public final class Stage1Config {
    /** Smallest TxSZ without 52-bit VAs (48-bit input). */
    static final int MIN_TXSZ = 16;
    /** Smallest TxSZ with a 64K granule and 52-bit VAs (FEAT_LVA). */
    static final int MIN_TXSZ_LVA = 12;
    /** Largest TxSZ without FEAT_TTST (25-bit input). */
    static final int MAX_TXSZ = 39;

    final Granule[] granule = new Granule[2];
    final int[] inputSize = new int[2];
    final int[] startLevel = new int[2];
    /** Input bits the start-level table resolves. */
    final int[] startBits = new int[2];
    final boolean[] epd = new boolean[2];
    final boolean[] tbi = new boolean[2];
    final boolean[] hpd = new boolean[2];
    final long[] ttb = new long[2];
    final int outputSize;
    final long mair;
    final boolean accessFlagFaultDisable;
    private final String problem;

    private Stage1Config(Builder b) {
        String p = null;
        for (int i = 0; i < 2; i++) {
            granule[i] = Objects.requireNonNull(b.granule[i], "granule");
            int min = granule[i] == Granule.G64K && b.lva ? MIN_TXSZ_LVA : MIN_TXSZ;
            int tsz = b.tsz[i];
            if (tsz < min || tsz > MAX_TXSZ) {
                if (!b.epd[i] && p == null) {
                    p = "T" + i + "SZ " + tsz + " outside " + min + ".." + MAX_TXSZ;
                }
                tsz = Math.max(min, Math.min(MAX_TXSZ, tsz));
            }
            inputSize[i] = 64 - tsz;
            startLevel[i] = granule[i].stage1StartLevel(inputSize[i]);
            startBits[i] = inputSize[i] - granule[i].levelShift(startLevel[i]);
            epd[i] = b.epd[i];
            tbi[i] = b.tbi[i];
            hpd[i] = b.hpd[i];
            ttb[i] = b.ttb[i];
        }
        if (b.outputSize < 32 || b.outputSize > 52) {
            throw new IllegalArgumentException("output size " + b.outputSize + " outside 32..52");
        }
        this.outputSize = b.outputSize;
        this.mair = b.mair;
        this.accessFlagFaultDisable = b.accessFlagFaultDisable;
        this.problem = p;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Why an SMMU would call this configuration illegal (a TxSZ out of range), or null. */
    public String problem() {
        return problem;
    }

    /** Input bits of range {@code ttbr} (0 or 1) after clamping. */
    public int inputSize(int ttbr) {
        return inputSize[ttbr];
    }

    public int startLevel(int ttbr) {
        return startLevel[ttbr];
    }

    public Granule granule(int ttbr) {
        return granule[ttbr];
    }

    /** Output (intermediate physical) address bits, from IPS before the walker's PA limit. */
    public int outputSize() {
        return outputSize;
    }

    public long mair() {
        return mair;
    }

    /** The IPS / PS encoding to bits: 0..6 = 32, 36, 40, 42, 44, 48, 52 (Arm ARM TCR_EL1.IPS). */
    public static int psBits(int ps) {
        return switch (ps) {
            case 0 -> 32;
            case 1 -> 36;
            case 2 -> 40;
            case 3 -> 42;
            case 4 -> 44;
            case 5 -> 48;
            case 6 -> 52;
            default -> throw new IllegalArgumentException("reserved PS encoding " + ps);
        };
    }

    @Override
    public String toString() {
        return "S1{T0SZ " + (64 - inputSize[0]) + " " + granule[0] + (epd[0] ? " EPD0" : "")
                + ", T1SZ " + (64 - inputSize[1]) + " " + granule[1] + (epd[1] ? " EPD1" : "")
                + ", OA " + outputSize + "}";
    }

    /** Defaults: 4K granules, TxSZ 16 (48-bit ranges), TTBR1 walks disabled (as Linux's SMMU CDs), 48-bit OA. */
    public static final class Builder {
        private final Granule[] granule = {Granule.G4K, Granule.G4K};
        private final int[] tsz = {MIN_TXSZ, MIN_TXSZ};
        private final boolean[] epd = {false, true};
        private final boolean[] tbi = new boolean[2];
        private final boolean[] hpd = new boolean[2];
        private final long[] ttb = new long[2];
        private int outputSize = 48;
        private long mair;
        private boolean accessFlagFaultDisable;
        private boolean lva;

        public Builder granule(int ttbr, Granule g) {
            granule[ttbr] = g;
            return this;
        }

        public Builder tsz(int ttbr, int value) {
            tsz[ttbr] = value;
            return this;
        }

        public Builder epd(int ttbr, boolean disabled) {
            epd[ttbr] = disabled;
            return this;
        }

        public Builder tbi(int ttbr, boolean ignored) {
            tbi[ttbr] = ignored;
            return this;
        }

        public Builder hpd(int ttbr, boolean disabled) {
            hpd[ttbr] = disabled;
            return this;
        }

        /** Physical (or, nested, intermediate physical) address of the start-level table. */
        public Builder ttb(int ttbr, long base) {
            ttb[ttbr] = base;
            return this;
        }

        /** Sets TTBR0 and enables its walks. */
        public Builder ttb0(Granule g, int t0sz, long base) {
            return granule(0, g).tsz(0, t0sz).ttb(0, base).epd(0, false);
        }

        /** Sets TTBR1 and enables its walks. */
        public Builder ttb1(Granule g, int t1sz, long base) {
            return granule(1, g).tsz(1, t1sz).ttb(1, base).epd(1, false);
        }

        public Builder outputSize(int bits) {
            outputSize = bits;
            return this;
        }

        public Builder mair(long value) {
            mair = value;
            return this;
        }

        /** SMMU CD.AFFD: a leaf with AF = 0 is used as if AF were 1 instead of faulting. */
        public Builder accessFlagFaultDisable(boolean value) {
            accessFlagFaultDisable = value;
            return this;
        }

        /** 52-bit VA ranges with a 64K granule (FEAT_LVA): TxSZ down to 12. */
        public Builder lva(boolean value) {
            lva = value;
            return this;
        }

        public Stage1Config build() {
            return new Stage1Config(this);
        }
    }
}
