package org.jiommu.hw.arm;

/**
 * A VMSAv8-64 translation granule (Arm ARM D8.2 "Translation granule"): the size of a
 * translation table and of the smallest page. Each lookup level resolves {@code shift - 3}
 * input bits (8-byte descriptors); level 3 resolves the bits just above the page offset.
 */
public enum Granule {
    G4K(12, 0b0110, 0b0110),
    G16K(14, 0b0100, 0b0100),
    G64K(16, 0b0100, 0b0110);

    private final int shift;
    private final int stride;
    /** Bit n set: a block descriptor is allowed at level n (without / with FEAT_LPA). */
    private final int blockLevels;
    private final int blockLevelsLpa;

    Granule(int shift, int blockLevels, int blockLevelsLpa) {
        this.shift = shift;
        this.stride = shift - 3;
        this.blockLevels = blockLevels;
        this.blockLevelsLpa = blockLevelsLpa;
    }

    /** log2 of the granule size: 12, 14 or 16. */
    public int shift() {
        return shift;
    }

    public long size() {
        return 1L << shift;
    }

    /** Input bits one full table resolves. */
    public int stride() {
        return stride;
    }

    /** Lowest input bit resolved at {@code level} (0..3): the log2 of that level's block size. */
    public int levelShift(int level) {
        return shift + (3 - level) * stride;
    }

    /**
     * Whether a block descriptor (bits[1:0] = 01) is allowed at {@code level} (Arm ARM
     * AArch64.BlockDescSupported without FEAT_LPA2): 4K at levels 1 and 2, 16K at level 2,
     * 64K at level 2 and, if the implementation has 52-bit physical addresses (FEAT_LPA), 1.
     * Anywhere else such a descriptor is a Translation fault.
     */
    public boolean blockAllowed(int level, boolean lpa) {
        return ((lpa ? blockLevelsLpa : blockLevels) >>> level & 1) != 0;
    }

    /**
     * Stage-1 start level for an input of {@code inputSize} bits: as many levels as the bits
     * above the page offset need, rounded up (Arm ARM AArch64.S1StartLevel).
     */
    public int stage1StartLevel(int inputSize) {
        return 4 - ceilDiv(inputSize - shift, stride());
    }

    /** The SMMU / TCR TG0 encoding: 0 = 4K, 1 = 64K, 2 = 16K. */
    public static Granule fromTg0(int tg0) {
        return switch (tg0) {
            case 0 -> G4K;
            case 1 -> G64K;
            case 2 -> G16K;
            default -> null;
        };
    }

    /** The TCR TG1 encoding: 1 = 16K, 2 = 4K, 3 = 64K. */
    public static Granule fromTg1(int tg1) {
        return switch (tg1) {
            case 1 -> G16K;
            case 2 -> G4K;
            case 3 -> G64K;
            default -> null;
        };
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
