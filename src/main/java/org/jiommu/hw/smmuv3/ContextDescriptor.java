package org.jiommu.hw.smmuv3;

import org.jiommu.hw.arm.Granule;
import org.jiommu.hw.arm.Stage1Config;

/**
 * A decoded Context Descriptor (IHI 0070 5.4): 64 bytes, words 0-3 used; decoded once per
 * configuration-cache fill into the walker's {@link Stage1Config}. {@link #illegal} names why the
 * spec calls the CD ILLEGAL (C_BAD_CD), V == 0 included.
 */
public final class ContextDescriptor {
    public static final int WORDS = 8;

    // word 0
    public static final int T0SZ_SHIFT = 0;
    public static final int TG0_SHIFT = 6;
    public static final long EPD0 = 1L << 14;
    public static final long ENDI = 1L << 15;
    public static final int T1SZ_SHIFT = 16;
    public static final int TG1_SHIFT = 22;
    public static final long EPD1 = 1L << 30;
    public static final long V = 1L << 31;
    public static final int IPS_SHIFT = 32;
    public static final long AFFD = 1L << 35;
    public static final long TBI0 = 1L << 38;
    public static final long TBI1 = 1L << 39;
    public static final long AA64 = 1L << 41;
    public static final long HD = 1L << 42;
    public static final long HA = 1L << 43;
    public static final long R = 1L << 45;
    public static final long A = 1L << 46;
    public static final long ASET = 1L << 47;
    public static final int ASID_SHIFT = 48;
    /** Words 1 and 2: TTB0 / TTB1 [51:4]. */
    public static final long TTB_MASK = 0x000F_FFFF_FFFF_FFF0L;
    /** The L1CD descriptor of a 2-level CD table: V bit 0, L2Ptr[51:12]. */
    public static final long L1CD_V = 1L;
    public static final long L1CD_L2PTR_MASK = 0x000F_FFFF_FFFF_F000L;

    /** CD.S, word 0 bit 44: a stage-1 fault stalls the transaction (with stall support, 5.4). */
    public static final long S = 1L << 44;

    public final String illegal;
    public final int asid;
    public final Stage1Config stage1;
    /** CD.S of an SMMU with the stall model: faults stall instead of terminating. */
    public final boolean stall;

    private ContextDescriptor(String illegal, int asid, Stage1Config stage1, boolean stall) {
        this.illegal = illegal;
        this.asid = asid;
        this.stage1 = stage1;
        this.stall = stall;
    }

    private static ContextDescriptor bad(String why) {
        return new ContextDescriptor(why, 0, null, false);
    }

    /**
     * Decodes a CD against the SMMU's features. {@code outputLimit} is the stage-1 output limit:
     * the OAS, or with nesting the stage-2 input size (the CD's output is an IPA).
     * HA / HD are ignored (IDR0.HTTU = 0); AFFD is honoured.
     */
    public static ContextDescriptor decode(long[] w, SmmuFeatures f) {
        long w0 = w[0];
        if ((w0 & V) == 0) {
            return bad("V == 0");
        }
        if ((w0 & AA64) == 0) {
            return bad("AA64 == 0: AArch32 stage-1 tables are not implemented");
        }
        boolean epd0 = (w0 & EPD0) != 0;
        boolean epd1 = (w0 & EPD1) != 0;
        if ((w0 & ENDI) != 0 && !(epd0 && epd1)) {
            return bad("ENDI == 1 on a little-endian-only SMMU (IDR0.TTENDIAN = 0b10)");
        }
        // IPS 0b111 is reserved and behaves as 0b110 (SMMUv3.1-3.3); the effective size is
        // capped to the OAS (5.4 CD.IPS).
        int ips = Math.min((int) (w0 >>> IPS_SHIFT) & 7, 6);
        Stage1Config.Builder b = Stage1Config.builder()
                .outputSize(Math.min(Stage1Config.psBits(ips), f.oas()))
                .mair(w[3])
                .accessFlagFaultDisable((w0 & AFFD) != 0)
                .lva(f.oas() == 52);
        if (!epd0) {
            Granule g = Granule.fromTg0((int) (w0 >>> TG0_SHIFT) & 3);
            if (g == null || !f.granule(g.shift())) {
                return bad("TG0 " + ((w0 >>> TG0_SHIFT) & 3) + " is not a supported granule");
            }
            b.ttb0(g, (int) (w0 >>> T0SZ_SHIFT) & 0x3f, w[1] & TTB_MASK);
        }
        if (!epd1) {
            Granule g = Granule.fromTg1((int) (w0 >>> TG1_SHIFT) & 3);
            if (g == null || !f.granule(g.shift())) {
                return bad("TG1 " + ((w0 >>> TG1_SHIFT) & 3) + " is not a supported granule");
            }
            b.ttb1(g, (int) (w0 >>> T1SZ_SHIFT) & 0x3f, w[2] & TTB_MASK);
        }
        b.epd(0, epd0).epd(1, epd1).tbi(0, (w0 & TBI0) != 0).tbi(1, (w0 & TBI1) != 0);
        Stage1Config s1 = b.build();
        if (s1.problem() != null) {
            // 5.4: a TxSZ outside the granule's range for an enabled table is ILLEGAL.
            return bad(s1.problem());
        }
        int asid = (int) (w0 >>> ASID_SHIFT) & (f.asid16() ? 0xffff : 0xff);
        return new ContextDescriptor(null, asid, s1, f.stall() && (w0 & S) != 0);
    }

    @Override
    public String toString() {
        return illegal != null ? "CD{ILLEGAL: " + illegal + "}" : "CD{asid " + asid + " " + stage1 + "}";
    }
}
