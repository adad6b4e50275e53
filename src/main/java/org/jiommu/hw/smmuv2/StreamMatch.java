package org.jiommu.hw.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.SMR_ID_MASK;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.SMR_MASK_SHIFT;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.SMR_VALID;

/**
 * An immutable copy of the stream match registers and S2CRs, taken when software writes one,
 * so a translation reads them without a lock (SMMUv2 spec 2.4 "Stream mapping").
 *
 * <p>The hardware compares a stream id against every SMR at once; the model's loop over the
 * SMRs was most of a TLB hit, so each copy remembers the outcome of the last stream ids it
 * matched, in a small direct-mapped table. The outcome is a function of this immutable copy
 * alone, and a register write makes a new copy with an empty table, so a remembered outcome
 * is always the one the loop would give.
 */
final class StreamMatch {
    /** {@link #match} results besides an S2CR index. */
    static final int UNMATCHED = -1;
    static final int MULTI_MATCH = -2;

    private final int[] smr;
    final int[] s2cr;
    private final int sidMask;
    /** Slots of {@link #memo}: a power of two. */
    static final int MEMO_SLOTS = 256;
    /**
     * Remembered outcomes by {@code sid & (MEMO_SLOTS - 1)}: 0 = none, else {@code (sid + 1) << 8
     * | (outcome + 2)}. Racy by design: an int is written whole, and every value written is
     * right for this copy, so a reader sees nothing (and matches) or a right value.
     */
    private final int[] memo;

    StreamMatch(int[] smr, int[] s2cr, int streamIdBits) {
        this.smr = smr.clone();
        this.s2cr = s2cr.clone();
        this.sidMask = (1 << streamIdBits) - 1;
        this.memo = smr.length == 0 ? null : new int[MEMO_SLOTS];
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
        if ((sid & ~sidMask) != 0) {
            return UNMATCHED; // wider than the stream ids: no SMR matches it (and it would not fit the memo)
        }
        int slot = sid & (MEMO_SLOTS - 1);
        int m = memo[slot];
        if (m >>> 8 == sid + 1) {
            return (m & 0xff) - 2;
        }
        int found = scan(sid);
        memo[slot] = (sid + 1) << 8 | (found + 2);
        return found;
    }

    /** The loop over the SMRs that {@link #match} remembers. */
    int scan(int sid) {
        if (smr.length == 0) {
            return match(sid);
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
