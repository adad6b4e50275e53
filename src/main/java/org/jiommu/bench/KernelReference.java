package org.jiommu.bench;

/**
 * A figure for the kernel's own code measured in one sitting with jiommu (issue 17): the
 * kernel's page-table code compiled unmodified in user space and called through its ops, on this
 * machine kind, ns per call (medians over runs, given as the range of the runs); jiommu's JMH
 * score of the same sitting alongside. A ratio against these from another machine or another
 * day is only indicative: the host was about 2x slower on 2026-12-06 than in November, on both
 * sides.
 *
 * @param date when the figures were taken
 * @param low fastest kernel median, ns per call
 * @param high slowest kernel median, ns per call
 * @param jmhLow jiommu's JMH score of the same sitting, low end
 * @param jmhHigh jiommu's JMH score of the same sitting, high end
 * @param source which kernel code was measured
 */
public record KernelReference(String date, double low, double high, double jmhLow, double jmhHigh,
                              String source) {
    /** The sitting the issue records. */
    public static final String SITTING = "2026-12-06";

    static KernelReference ioPgtableArm(double low, double high, double jmhLow, double jmhHigh) {
        return new KernelReference(SITTING, low, high, jmhLow, jmhHigh, "io-pgtable-arm.c");
    }

    static KernelReference genericPtVtdss(double low, double high, double jmhLow, double jmhHigh) {
        return new KernelReference(SITTING, low, high, jmhLow, jmhHigh, "generic_pt vtdss");
    }

    /**
     * A published {@code dma_map_benchmark} figure (kernel/dma/map_benchmark.c), not measured in
     * the sitting: Arm Morello + SMMUv3, 4K, 1 thread, map 0.1 us + unmap 0.6 us per pair
     * (Mostafa Saleh, "IOMMU debug pagealloc" series v5/v6, 2025-26, with IOMMU_DEBUG_PAGEALLOC
     * off; the tool's 100 ns resolution). There is no jiommu score of that sitting (NaN).
     */
    static KernelReference dmaMapBenchmarkMorello() {
        return new KernelReference(PUBLISHED_2025, 700, 700, Double.NaN, Double.NaN,
                "dma_map_benchmark, Arm Morello + SMMUv3 (published)");
    }

    /** The date of the published dma_map_benchmark figures (the patch series' year). */
    public static final String PUBLISHED_2025 = "2025";

    /** Whether jiommu has a score of the reference's own sitting (false for published figures). */
    public boolean hasJmh() {
        return !Double.isNaN(jmhLow) && !Double.isNaN(jmhHigh);
    }

    /** "23-25", or "24" when both ends agree. */
    static String range(double lo, double hi) {
        String a = trim(lo);
        String b = trim(hi);
        return a.equals(b) ? a : a + "-" + b;
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : String.format("%.1f", v);
    }
}
