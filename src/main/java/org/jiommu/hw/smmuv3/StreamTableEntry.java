package org.jiommu.hw.smmuv3;

import org.jiommu.hw.arm.Granule;
import org.jiommu.hw.arm.Stage1Config;
import org.jiommu.hw.arm.Stage2Config;

/**
 * A decoded Stream Table Entry (IHI 0070 5.2): 64 bytes, read as eight little-endian words, decoded
 * once per configuration-cache fill. {@link #decode} either returns a usable entry or one whose
 * {@link #illegal} names why the spec calls it ILLEGAL (the unit then records C_BAD_STE and
 * terminates the transaction, never throws).
 */
public final class StreamTableEntry {
    /** STE.Config (5.2, word 0 bits [3:1]) in the spec's words. */
    public enum Config { ABORT, BYPASS, S1_TRANSLATE, S2_TRANSLATE, NESTED }

    public static final int WORDS = 8;

    // word 0
    public static final long V = 1L;
    public static final int CONFIG_SHIFT = 1;
    public static final int CFG_ABORT = 0b000;
    public static final int CFG_BYPASS = 0b100;
    public static final int CFG_S1_TRANS = 0b101;
    public static final int CFG_S2_TRANS = 0b110;
    public static final int CFG_NESTED = 0b111;
    public static final int S1FMT_SHIFT = 4;
    public static final int S1FMT_LINEAR = 0;
    public static final int S1FMT_64K_L2 = 2;
    public static final int S1FMT_4K_L2 = 1;
    /** S1ContextPtr[51:6]. */
    public static final long S1_CONTEXT_PTR_MASK = 0x000F_FFFF_FFFF_FFC0L;
    public static final int S1CDMAX_SHIFT = 59;
    // word 1
    public static final int S1DSS_TERMINATE = 0;
    public static final int S1DSS_BYPASS = 1;
    public static final int S1DSS_SSID0 = 2;
    public static final int EATS_SHIFT = 28;
    public static final int EATS_ABT = 0;
    public static final int EATS_TRANS = 1;
    public static final int EATS_S1CHK = 2;
    // word 2
    public static final int S2T0SZ_SHIFT = 32;
    public static final int S2SL0_SHIFT = 38;
    public static final int S2TG_SHIFT = 46;
    public static final int S2PS_SHIFT = 48;
    public static final long S2AA64 = 1L << 51;
    public static final long S2ENDI = 1L << 52;
    public static final long S2AFFD = 1L << 53;
    public static final long S2R = 1L << 58;
    // word 3: S2TTB[51:4]
    public static final long S2TTB_MASK = 0x000F_FFFF_FFFF_FFF0L;

    /** STE.S1STALLD, word 1 bit 27. */
    public static final long S1STALLD = 1L << 27;

    public final Config config;
    /** Why the entry is ILLEGAL (5.2), or null. */
    public final String illegal;
    public final int s1Fmt;
    public final long s1ContextPtr;
    /** log2 of the number of CDs; 0: one CD, no substreams. */
    public final int s1CdMax;
    public final int s1Dss;
    public final int eats;
    public final int vmid;
    /** Stage 2 of S2_TRANSLATE / NESTED, else null. */
    public final Stage2Config stage2;
    /** STE.S1STALLD (word 1 bit 27): stage-1 faults of this stream do not stall (5.2); false without stall support. */
    public final boolean s1Stalld;

    private StreamTableEntry(Config config, String illegal, int s1Fmt, long s1ContextPtr, int s1CdMax, int s1Dss,
                             int eats, int vmid, Stage2Config stage2) {
        this(config, illegal, s1Fmt, s1ContextPtr, s1CdMax, s1Dss, eats, vmid, stage2, false);
    }

    private StreamTableEntry(Config config, String illegal, int s1Fmt, long s1ContextPtr, int s1CdMax, int s1Dss,
                             int eats, int vmid, Stage2Config stage2, boolean s1Stalld) {
        this.s1Stalld = s1Stalld;
        this.config = config;
        this.illegal = illegal;
        this.s1Fmt = s1Fmt;
        this.s1ContextPtr = s1ContextPtr;
        this.s1CdMax = s1CdMax;
        this.s1Dss = s1Dss;
        this.eats = eats;
        this.vmid = vmid;
        this.stage2 = stage2;
    }

    private static StreamTableEntry bad(String why) {
        return new StreamTableEntry(Config.ABORT, why, 0, 0, 0, 0, 0, 0, null);
    }

    public boolean stage1() {
        return config == Config.S1_TRANSLATE || config == Config.NESTED;
    }

    public boolean stage2() {
        return config == Config.S2_TRANSLATE || config == Config.NESTED;
    }

    /**
     * Decodes the eight words of an STE against what the SMMU implements, with the ILLEGAL
     * conditions of 5.2 (STE.V == 0 included: such an STE is also reported as C_BAD_STE).
     */
    public static StreamTableEntry decode(long[] w, SmmuFeatures f) {
        if ((w[0] & V) == 0) {
            return bad("V == 0");
        }
        int cfg = (int) (w[0] >>> CONFIG_SHIFT) & 7;
        Config config = switch (cfg) {
            case CFG_BYPASS -> Config.BYPASS;
            case CFG_S1_TRANS -> Config.S1_TRANSLATE;
            case CFG_S2_TRANS -> Config.S2_TRANSLATE;
            case CFG_NESTED -> Config.NESTED;
            // 0b000, and the reserved 0b001-0b011 which behave as 0b000.
            default -> Config.ABORT;
        };
        if (config == Config.ABORT || config == Config.BYPASS) {
            // Every other field is IGNORED for these configurations.
            return new StreamTableEntry(config, null, 0, 0, 0, 0, 0, 0, null);
        }
        boolean s1 = config == Config.S1_TRANSLATE || config == Config.NESTED;
        boolean s2 = config == Config.S2_TRANSLATE || config == Config.NESTED;
        if (s1 && !f.stage1() || s2 && !f.stage2()) {
            return bad("Config " + config + " needs a stage the SMMU does not implement");
        }
        int s1Fmt = 0;
        long ctxPtr = 0;
        int cdMax = 0;
        int dss = 0;
        if (s1) {
            s1Fmt = (int) (w[0] >>> S1FMT_SHIFT) & 3;
            ctxPtr = w[0] & S1_CONTEXT_PTR_MASK;
            // S1CDMax is IGNORED when SSIDSIZE == 0; above SSIDSIZE it is ILLEGAL.
            cdMax = f.ssidBits() == 0 ? 0 : (int) (w[0] >>> S1CDMAX_SHIFT) & 0x1f;
            dss = (int) w[1] & 3;
            if (cdMax > f.ssidBits()) {
                return bad("S1CDMax " + cdMax + " > SSIDSIZE " + f.ssidBits());
            }
            if (cdMax != 0) {
                // S1Fmt 0b11 and S1DSS 0b11 are reserved and behave as 0b00; 2-level needs CD2L.
                s1Fmt = s1Fmt == 3 ? S1FMT_LINEAR : s1Fmt;
                if (s1Fmt != S1FMT_LINEAR && !f.cd2l()) {
                    return bad("S1Fmt " + s1Fmt + " without IDR0.CD2L");
                }
                dss = dss == 3 ? S1DSS_TERMINATE : dss;
            } else {
                // S1Fmt and S1DSS are IGNORED with a single CD.
                s1Fmt = S1FMT_LINEAR;
                dss = 0;
            }
        }
        int eats = 0;
        if (f.ats()) {
            eats = (int) (w[1] >>> EATS_SHIFT) & 3;
            if (eats == EATS_S1CHK && config != Config.NESTED) {
                return bad("EATS 0b10 (split-stage) with Config " + config);
            }
            // 0b11 (full ATS with DPT checks) behaves as 0b00 without IDR3.DPT; split-stage ATS
            // is not modelled and behaves as 0b00 too (what it does with CR0.ATSCHK = 0).
            eats = eats == EATS_TRANS ? EATS_TRANS : EATS_ABT;
        }
        // S2VMID tags stage-1-only translations too when stage 2 is implemented (5.2 STE.S2VMID).
        int vmid = f.stage2() ? (int) w[2] & (f.vmid16() ? 0xffff : 0xff) : 0;
        Stage2Config st2 = null;
        if (s2) {
            if ((w[2] & S2AA64) == 0) {
                return bad("S2AA64 == 0: AArch32 stage-2 tables are not implemented");
            }
            if ((w[2] & S2ENDI) != 0) {
                return bad("S2ENDI == 1 on a little-endian-only SMMU");
            }
            Granule g = Granule.fromTg0((int) (w[2] >>> S2TG_SHIFT) & 3);
            if (g == null || !f.granule(g.shift())) {
                return bad("S2TG " + ((w[2] >>> S2TG_SHIFT) & 3) + " is not a supported granule");
            }
            int ps = (int) (w[2] >>> S2PS_SHIFT) & 7;
            if (ps > 6) {
                return bad("S2PS 7 is reserved");
            }
            // An S2PS beyond the OAS behaves as the OAS (5.2 STE.S2PS).
            int outBits = Math.min(Stage1Config.psBits(ps), f.oas());
            long ttb = w[3] & S2TTB_MASK;
            if (ttb >>> outBits != 0) {
                return bad(String.format("S2TTB %#x beyond the %d-bit output size", ttb, outBits));
            }
            int t0sz = (int) (w[2] >>> S2T0SZ_SHIFT) & 0x3f;
            int sl0 = (int) (w[2] >>> S2SL0_SHIFT) & 3;
            st2 = Stage2Config.of(g, t0sz, sl0, ttb, outBits, (w[2] & S2AFFD) != 0, f.oas() == 52);
            if (st2.problem() != null) {
                return bad("stage 2: " + st2.problem());
            }
        }
        return new StreamTableEntry(config, null, s1Fmt, ctxPtr, cdMax, dss, eats, vmid, st2,
                f.stall() && (w[1] & S1STALLD) != 0);
    }

    @Override
    public String toString() {
        if (illegal != null) {
            return "STE{ILLEGAL: " + illegal + "}";
        }
        return "STE{" + config + (stage1() ? String.format(" ctx %#x fmt %d cdmax %d dss %d", s1ContextPtr, s1Fmt,
                s1CdMax, s1Dss) : "") + (stage2() ? " vmid " + vmid + " " + stage2 : "") + " eats " + eats + "}";
    }
}
