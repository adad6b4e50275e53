package org.jiommu.hw.arm;

import java.util.Objects;

/**
 * A stage-2 translation as VTCR (or an SMMUv3 STE's S2 fields, or an SMMUv2 stage-2 context
 * bank) describes it: granule, T0SZ, SL0, PS and the base of the (possibly concatenated)
 * start-level tables. Immutable, decoded once per configuration-cache fill.
 *
 * <p>The start level comes from SL0 (Arm ARM VTCR_EL2.SL0): with 4K, 0/1/2 = level 2/1/0; with
 * 16K and 64K, 0/1/2 = level 3/2/1. SL0 values the granule does not allow, and an input size
 * the start level cannot resolve with at most 16 concatenated tables (AArch64.S2InvalidSL /
 * S2InconsistentSL), make every walk a stage-2 Translation fault at level 0;
 * {@link #problem()} names the reason so an SMMUv3 model can reject the STE instead.
 */
public final class Stage2Config {
    final Granule granule;
    final int inputSize;
    /** -1 when SL0 is invalid or inconsistent with T0SZ. */
    final int startLevel;
    final int startBits;
    final long ttb;
    final int outputSize;
    final boolean accessFlagFaultDisable;
    private final String problem;

    private Stage2Config(Granule granule, int t0sz, int sl0, long ttb, int outputSize, boolean affd, boolean lpa) {
        this.granule = Objects.requireNonNull(granule, "granule");
        if (outputSize < 32 || outputSize > 52) {
            throw new IllegalArgumentException("output size " + outputSize + " outside 32..52");
        }
        String p = null;
        int min = granule == Granule.G64K && lpa ? Stage1Config.MIN_TXSZ_LVA : Stage1Config.MIN_TXSZ;
        int tsz = t0sz;
        if (tsz < min || tsz > Stage1Config.MAX_TXSZ) {
            p = "T0SZ " + t0sz + " outside " + min + ".." + Stage1Config.MAX_TXSZ;
            tsz = Math.max(min, Math.min(Stage1Config.MAX_TXSZ, tsz));
        }
        this.inputSize = 64 - tsz;
        int level = startLevel(granule, sl0);
        if (level < 0) {
            p = p != null ? p : "SL0 " + sl0 + " is reserved for " + granule;
        } else if (inconsistent(granule, level, inputSize)) {
            p = p != null ? p : "SL0 " + sl0 + " (level " + level + ") cannot resolve a " + inputSize + "-bit IPA";
            level = -1;
        }
        this.startLevel = level;
        this.startBits = level < 0 ? 0 : inputSize - granule.levelShift(level);
        this.ttb = ttb;
        this.outputSize = outputSize;
        this.accessFlagFaultDisable = affd;
        this.problem = p;
    }

    /**
     * @param t0sz VTCR.T0SZ (input = 64 - T0SZ bits)
     * @param sl0 VTCR.SL0
     * @param ttb physical address of the start-level table(s)
     * @param outputSize output address bits (from PS)
     */
    public static Stage2Config of(Granule granule, int t0sz, int sl0, long ttb, int outputSize) {
        return new Stage2Config(granule, t0sz, sl0, ttb, outputSize, false, false);
    }

    /** As {@link #of} with STE.S2AFFD and, for 64K, 52-bit IPAs allowed (FEAT_LPA). */
    public static Stage2Config of(Granule granule, int t0sz, int sl0, long ttb, int outputSize, boolean affd,
                                  boolean lpa) {
        return new Stage2Config(granule, t0sz, sl0, ttb, outputSize, affd, lpa);
    }

    /** SL0 to a level, or -1 where AArch64.S2InvalidSL calls it invalid (without FEAT_LPA2 / TTST). */
    static int startLevel(Granule g, int sl0) {
        return switch (g) {
            case G4K -> sl0 >= 0 && sl0 <= 2 ? 2 - sl0 : -1;
            case G16K, G64K -> sl0 >= 0 && sl0 <= 2 ? 3 - sl0 : -1;
        };
    }

    /**
     * AArch64.S2InconsistentSL: the start level must need its table (input wider than what the
     * levels below resolve) and may hold at most one full stride plus 16 concatenated tables.
     */
    static boolean inconsistent(Granule g, int level, int inputSize) {
        int levels = 3 - level;
        int min = levels * g.stride() + g.shift() + 1;
        int max = min + (g.stride() - 1) + 4;
        return inputSize < min || inputSize > max;
    }

    public String problem() {
        return problem;
    }

    public int inputSize() {
        return inputSize;
    }

    /** The start level, or -1 if SL0 is invalid or inconsistent with T0SZ. */
    public int startLevel() {
        return startLevel;
    }

    /** Tables concatenated at the start level (1 if none). */
    public int concatenatedTables() {
        if (startLevel < 0) {
            return 0;
        }
        return startBits > granule.stride() ? 1 << (startBits - granule.stride()) : 1;
    }

    public Granule granule() {
        return granule;
    }

    public int outputSize() {
        return outputSize;
    }

    @Override
    public String toString() {
        return "S2{T0SZ " + (64 - inputSize) + " " + granule + " start " + startLevel + " OA " + outputSize + "}";
    }
}
