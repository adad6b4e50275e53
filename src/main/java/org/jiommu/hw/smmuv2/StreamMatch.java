package org.jiommu.hw.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.SMR_ID_MASK;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.SMR_MASK_SHIFT;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.SMR_VALID;

/**
 * An immutable copy of the stream match registers and S2CRs, taken when software writes one,
 * so a translation reads them without a lock (SMMUv2 spec 2.4 "Stream mapping").
 */
final class StreamMatch {
    /** {@link #match} results besides an S2CR index. */
    static final int UNMATCHED = -1;
    static final int MULTI_MATCH = -2;

    private final int[] smr;
    final int[] s2cr;
    private final int sidMask;

    StreamMatch(int[] smr, int[] s2cr, int streamIdBits) {
        this.smr = smr.clone();
        this.s2cr = s2cr.clone();
        this.sidMask = (1 << streamIdBits) - 1;
    }

    /**
     * The S2CR that applies to {@code sid}. With stream matching, SMR n matches when VALID and
     * the id agrees with SMR.ID on every bit SMR.MASK does not mark "don't care"; two matching
     * SMRs are a stream match conflict. Without it the stream id is the S2CR index.
     */
    int match(int sid) {
        if (smr.length == 0) {
            return sid >= 0 && sid < s2cr.length ? sid : UNMATCHED;
        }
        int found = UNMATCHED;
        for (int n = 0; n < smr.length; n++) {
            int r = smr[n];
            if ((r & SMR_VALID) == 0) {
                continue;
            }
            int care = ~(r >>> SMR_MASK_SHIFT) & SMR_ID_MASK & sidMask;
            if (((sid ^ r) & care) == 0 && (sid & ~sidMask) == 0) {
                if (found != UNMATCHED) {
                    return MULTI_MATCH;
                }
                found = n;
            }
        }
        return found;
    }
}
