package org.jiommu.hw.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

/**
 * What one SMMUv3 implements, as its ID registers advertise it (IHI 0070 6.3.1-6.3.6): the
 * hardware model checks STEs, CDs and commands against it, and the driver reads it back from
 * IDR0/IDR1/IDR3/IDR5 at probe. Immutable.
 *
 * @param stage1 IDR0.S1P
 * @param stage2 IDR0.S2P
 * @param ats IDR0.ATS
 * @param pri IDR0.PRI
 * @param cd2l IDR0.CD2L: 2-level CD tables
 * @param twoLevelStreamTable IDR0.ST_LEVEL = 0b01
 * @param asid16 IDR0.ASID16
 * @param vmid16 IDR0.VMID16
 * @param rangeInvalidation IDR3.RIL: TLBI_NH_VA / TLBI_S2_IPA with TG / SCALE / NUM
 * @param sidBits IDR1.SIDSIZE
 * @param ssidBits IDR1.SSIDSIZE
 * @param oas IDR5.OAS in bits (32..52)
 * @param granules bit 12 / 14 / 16 set for the 4K / 16K / 64K granules (IDR5.GRAN4K/16K/64K)
 * @param log2QueueMax largest LOG2SIZE of each queue (IDR1.CMDQS / EVTQS / PRIQS)
 * @param stall IDR0.STALL_MODEL 0b00 (stall and terminate) instead of 0b01 (terminate only)
 */
public record SmmuFeatures(boolean stage1, boolean stage2, boolean ats, boolean pri, boolean cd2l,
                           boolean twoLevelStreamTable, boolean asid16, boolean vmid16, boolean rangeInvalidation,
                           int sidBits, int ssidBits, int oas, int granules, int log2QueueMax, boolean stall) {

    /** Without the stall model (STALL_MODEL 0b01). */
    public SmmuFeatures(boolean stage1, boolean stage2, boolean ats, boolean pri, boolean cd2l,
                        boolean twoLevelStreamTable, boolean asid16, boolean vmid16, boolean rangeInvalidation,
                        int sidBits, int ssidBits, int oas, int granules, int log2QueueMax) {
        this(stage1, stage2, ats, pri, cd2l, twoLevelStreamTable, asid16, vmid16, rangeInvalidation, sidBits,
                ssidBits, oas, granules, log2QueueMax, false);
    }

    public SmmuFeatures {
        if (!stage1 && !stage2) {
            throw new IllegalArgumentException("an SMMU implements at least one stage");
        }
        if (sidBits < 0 || sidBits > 32 || ssidBits < 0 || ssidBits > 20) {
            throw new IllegalArgumentException("SIDSIZE " + sidBits + ", SSIDSIZE " + ssidBits);
        }
        if (oas != 32 && oas != 36 && oas != 40 && oas != 42 && oas != 44 && oas != 48 && oas != 52) {
            throw new IllegalArgumentException("OAS " + oas);
        }
        if ((granules & ~(1 << 12 | 1 << 14 | 1 << 16)) != 0 || granules == 0) {
            throw new IllegalArgumentException("granules " + Integer.toHexString(granules));
        }
        if (log2QueueMax < 1 || log2QueueMax > 19) {
            throw new IllegalArgumentException("log2QueueMax " + log2QueueMax);
        }
    }

    /**
     * A full-featured SMMU: both stages, ATS, PRI, 16-bit SIDs, 20-bit SSIDs, 48-bit OAS, 4K and
     * 64K granules, range invalidation.
     */
    public static SmmuFeatures full() {
        return new SmmuFeatures(true, true, true, true, true, true, true, true, true, 16, 20, 48,
                1 << 12 | 1 << 16, 19);
    }

    public SmmuFeatures withRangeInvalidation(boolean ril) {
        return new SmmuFeatures(stage1, stage2, ats, pri, cd2l, twoLevelStreamTable, asid16, vmid16, ril, sidBits,
                ssidBits, oas, granules, log2QueueMax);
    }

    public SmmuFeatures withStages(boolean s1, boolean s2) {
        return new SmmuFeatures(s1, s2, ats, pri, cd2l, twoLevelStreamTable, asid16, vmid16, rangeInvalidation,
                sidBits, ssidBits, oas, granules, log2QueueMax);
    }

    /** The same SMMU with or without the stall model. */
    public SmmuFeatures withStall(boolean s) {
        return new SmmuFeatures(stage1, stage2, ats, pri, cd2l, twoLevelStreamTable, asid16, vmid16,
                rangeInvalidation, sidBits, ssidBits, oas, granules, log2QueueMax, s);
    }

    public boolean granule(int shift) {
        return (granules >>> shift & 1) != 0;
    }

    /** IDR5.OAS encoding: 0..6 = 32, 36, 40, 42, 44, 48, 52 bits. */
    public int oasEncoding() {
        return switch (oas) {
            case 32 -> 0;
            case 36 -> 1;
            case 40 -> 2;
            case 42 -> 3;
            case 44 -> 4;
            case 48 -> 5;
            default -> 6;
        };
    }

    public int idr0() {
        int v = IDR0_TTF_AARCH64 | IDR0_COHACC | IDR0_MSI | (stall ? 0 : IDR0_STALL_NONE);
        v |= stage2 ? IDR0_S2P : 0;
        v |= stage1 ? IDR0_S1P : 0;
        v |= ats ? IDR0_ATS : 0;
        v |= pri ? IDR0_PRI : 0;
        v |= cd2l ? IDR0_CD2L : 0;
        v |= twoLevelStreamTable ? IDR0_ST_LEVEL_2LVL : 0;
        v |= asid16 ? IDR0_ASID16 : 0;
        v |= vmid16 ? IDR0_VMID16 : 0;
        // TTENDIAN[22:21] = 0b10: little-endian translation tables only.
        v |= 2 << 21;
        return v;
    }

    public int idr1() {
        return sidBits << IDR1_SIDSIZE_SHIFT | ssidBits << IDR1_SSIDSIZE_SHIFT
                | log2QueueMax << IDR1_PRIQS_SHIFT | log2QueueMax << IDR1_EVTQS_SHIFT
                | log2QueueMax << IDR1_CMDQS_SHIFT;
    }

    public int idr3() {
        return rangeInvalidation ? IDR3_RIL : 0;
    }

    public int idr5() {
        return (granule(12) ? IDR5_GRAN4K : 0) | (granule(14) ? IDR5_GRAN16K : 0)
                | (granule(16) ? IDR5_GRAN64K : 0) | oasEncoding();
    }
}
