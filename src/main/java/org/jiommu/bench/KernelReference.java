package org.jiommu.bench;

/**
 * A figure for the kernel's own code measured in one sitting with jiommu (issue 17): the
 * kernel's page-table code compiled unmodified in user space and called through its ops
 * (tools/kernel-bench), on this machine kind, ns per call; jiommu's figure of the same sitting
 * alongside. Both sides are per-process medians of alternating processes
 * (tools/kernel-bench/paired.py): the median of those and their range. A ratio against these from
 * another machine or another day is only indicative: on this shared VM the same binary moves by
 * up to 2x from one hour to the next, on both sides.
 *
 * @param date when the figures were taken
 * @param median the kernel's median, ns per call
 * @param low fastest kernel process, ns per call
 * @param high slowest kernel process, ns per call
 * @param jiommuMedian jiommu's median of the same sitting (NaN: none, a published figure)
 * @param jiommuLow jiommu's fastest process of the same sitting
 * @param jiommuHigh jiommu's slowest process of the same sitting
 * @param source which kernel code was measured
 */
public record KernelReference(String date, double median, double low, double high, double jiommuMedian,
                              double jiommuLow, double jiommuHigh, String source) {
    /** The sitting the page-table references come from (docs/PERFORMANCE.md). */
    public static final String SITTING = "2026-12-07";

    /** {@code k} and {@code j}: median, fastest, slowest process of the kernel and of jiommu. */
    static KernelReference ioPgtableArm(double[] k, double[] j) {
        return new KernelReference(SITTING, k[0], k[1], k[2], j[0], j[1], j[2], "io-pgtable-arm.c");
    }

    static KernelReference genericPtVtdss(double[] k, double[] j) {
        return new KernelReference(SITTING, k[0], k[1], k[2], j[0], j[1], j[2], "generic_pt vtdss");
    }

    static KernelReference genericPtX86_64(double[] k, double[] j) {
        return new KernelReference(SITTING, k[0], k[1], k[2], j[0], j[1], j[2], "generic_pt x86_64");
    }

    /** Median, fastest, slowest. */
    static double[] ns(double median, double low, double high) {
        return new double[] {median, low, high};
    }

    /**
     * A published {@code dma_map_benchmark} figure (kernel/dma/map_benchmark.c), not measured in
     * a sitting of ours: Arm Morello + SMMUv3, 4K, 1 thread, map 0.1 us + unmap 0.6 us per pair
     * (Mostafa Saleh, "IOMMU debug pagealloc" series v5/v6, 2025-26, with IOMMU_DEBUG_PAGEALLOC
     * off; the tool's 100 ns resolution). There is no jiommu figure of that sitting (NaN).
     */
    static KernelReference dmaMapBenchmarkMorello() {
        return new KernelReference(PUBLISHED_2025, 700, 700, 700, Double.NaN, Double.NaN, Double.NaN,
                "dma_map_benchmark, Arm Morello + SMMUv3 (published)");
    }

    /** The date of the published dma_map_benchmark figures (the patch series' year). */
    public static final String PUBLISHED_2025 = "2025";

    /** Whether jiommu has a figure of the reference's own sitting (false for published figures). */
    public boolean hasJiommu() {
        return !Double.isNaN(jiommuMedian);
    }

    /** "13.4 (13.4-13.7)", or "700" when the range is that one figure. */
    public static String cell(double median, double lo, double hi) {
        return lo == hi && lo == median ? trim(median) : trim(median) + " (" + trim(lo) + "-" + trim(hi) + ")";
    }

    /** Three significant places as the measurements have them: "311", "28.5", "25.0". */
    private static String trim(double v) {
        return v >= 100 ? String.format("%.0f", v) : String.format("%.1f", v);
    }
}
