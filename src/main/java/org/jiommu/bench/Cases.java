package org.jiommu.bench;

import static org.jiommu.bench.KernelReference.ns;

import static org.jiommu.bench.PageTableFixtures.Format.ARM_LPAE_S1;
import static org.jiommu.bench.PageTableFixtures.Format.VTD_SL;
import static org.jiommu.bench.PageTableFixtures.Format.X86_FL;
import static org.jiommu.bench.PageTableFixtures.Op.IOVA_TO_PHYS;
import static org.jiommu.bench.PageTableFixtures.Op.MAP_256X4K;
import static org.jiommu.bench.PageTableFixtures.Op.MAP_2M;
import static org.jiommu.bench.PageTableFixtures.Op.MAP_4K;
import static org.jiommu.bench.PageTableFixtures.Op.UNMAP_256X4K;
import static org.jiommu.bench.PageTableFixtures.Op.UNMAP_4K;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bench.BenchCase.Unit;
import org.jiommu.bench.PageTableFixtures.Format;
import org.jiommu.bench.PageTableFixtures.Op;

/**
 * Every case {@code jiommu bench} knows, in the order it runs them. Adding a case is one
 * {@link #add} line in {@link #registerAll}: a name, a line of description, a unit and a
 * {@link Fixture} factory (plus the kernel's figure if there is one).
 */
public final class Cases {
    private static final Map<String, BenchCase> CASES = new LinkedHashMap<>();

    static {
        registerAll();
    }

    private Cases() {
    }

    private static void registerAll() {
        // Page tables: the 2026-12-07 sitting (docs/PERFORMANCE.md; tools/kernel-bench/paired.py,
        // 8 kernel processes alternating with 8 jiommu JVMs per case): ns per call, the kernel's
        // median, fastest and slowest process, then jiommu's of the same sitting.
        pgtable(ARM_LPAE_S1, MAP_4K, KernelReference.ioPgtableArm(ns(13.4, 13.4, 13.7), ns(15.9, 13.6, 17.3)));
        pgtable(ARM_LPAE_S1, UNMAP_4K, KernelReference.ioPgtableArm(ns(20.4, 10.8, 20.8), ns(16.2, 14.5, 22.6)));
        pgtable(ARM_LPAE_S1, MAP_256X4K, KernelReference.ioPgtableArm(ns(311.1, 289.3, 439.2), ns(127.4, 121.5, 132.5)));
        pgtable(ARM_LPAE_S1, UNMAP_256X4K, KernelReference.ioPgtableArm(ns(219.8, 212.3, 337.6), ns(149.2, 140.0, 175.5)));
        pgtable(ARM_LPAE_S1, MAP_2M, KernelReference.ioPgtableArm(ns(11.4, 11.2, 12.5), ns(11.7, 9.9, 18.3))); // after mapOneLeaf
        pgtable(ARM_LPAE_S1, IOVA_TO_PHYS, KernelReference.ioPgtableArm(ns(20.3, 20.0, 20.6), ns(12.6, 12.5, 13.1)));
        pgtable(VTD_SL, MAP_4K, KernelReference.genericPtVtdss(ns(29.4, 28.9, 29.7), ns(15.5, 14.6, 30.0)));
        pgtable(VTD_SL, UNMAP_4K, KernelReference.genericPtVtdss(ns(35.2, 34.5, 35.8), ns(17.0, 15.8, 17.7)));
        pgtable(VTD_SL, MAP_256X4K, KernelReference.genericPtVtdss(ns(316.3, 301.9, 351.1), ns(142.6, 134.7, 228.4)));
        pgtable(VTD_SL, UNMAP_256X4K, KernelReference.genericPtVtdss(ns(302.9, 294.4, 532.4), ns(149.3, 140.9, 200.0)));
        pgtable(VTD_SL, MAP_2M, KernelReference.genericPtVtdss(ns(43.6, 37.7, 50.7), ns(13.0, 12.6, 21.1)));
        pgtable(VTD_SL, IOVA_TO_PHYS, KernelReference.genericPtVtdss(ns(28.5, 25.0, 28.9), ns(16.0, 12.6, 21.1)));
        pgtable(X86_FL, MAP_4K, KernelReference.genericPtX86_64(ns(30.1, 28.6, 34.7), ns(14.7, 14.1, 25.8)));
        pgtable(X86_FL, UNMAP_4K, KernelReference.genericPtX86_64(ns(39.7, 39.0, 61.2), ns(17.4, 16.3, 26.2)));
        pgtable(X86_FL, MAP_256X4K, KernelReference.genericPtX86_64(ns(419.6, 373.9, 591.6), ns(148.4, 124.6, 224.5)));
        pgtable(X86_FL, UNMAP_256X4K, KernelReference.genericPtX86_64(ns(519.1, 302.8, 550.2), ns(198.8, 142.5, 212.6)));
        pgtable(X86_FL, MAP_2M, KernelReference.genericPtX86_64(ns(47.4, 35.4, 53.2), ns(13.1, 11.4, 20.8)));
        pgtable(X86_FL, IOVA_TO_PHYS, KernelReference.genericPtX86_64(ns(27.9, 27.4, 28.9), ns(17.2, 12.5, 18.4)));
        // DMA translation through a driver-programmed unit (targets: hit >= 50 M/s, walk >= 15 M/s).
        add("vtd-dma/translate-hit", "VT-d scalable mode: DMA translate, IOTLB hit", Unit.MOPS_PER_S, null,
                () -> TranslateFixture.vtd(true, true));
        add("vtd-dma/translate-walk", "VT-d scalable mode: DMA translate, full 4-level walk (IOTLB off)",
                Unit.MOPS_PER_S, null, () -> TranslateFixture.vtd(true, false));
        add("vtd-dma/legacy-translate-hit", "VT-d legacy mode: DMA translate, IOTLB hit", Unit.MOPS_PER_S, null,
                () -> TranslateFixture.vtd(false, true));
        add("vtd-dma/legacy-translate-walk", "VT-d legacy mode: DMA translate, full 4-level walk (IOTLB off)",
                Unit.MOPS_PER_S, null, () -> TranslateFixture.vtd(false, false));
        // SMMUv2: a stream matched to a stage-1 context bank (target: hit >= 40 M/s, issue 12).
        add("smmuv2-dma/translate-hit", "SMMUv2 stage-1 context bank: DMA translate, TLB hit", Unit.MOPS_PER_S,
                null, () -> TranslateFixture.smmuv2(true));
        add("smmuv2-dma/translate-walk", "SMMUv2 stage-1 context bank: DMA translate, full 4-level walk (TLB off)",
                Unit.MOPS_PER_S, null, () -> TranslateFixture.smmuv2(false));
        // SMMUv3: a stage-1 STE and CD (targets: hit >= 40 M/s, S1 walk >= 10 M/s, issue 11).
        add("smmuv3-dma/translate-hit", "SMMUv3 stage-1 STE + CD: DMA translate, TLB hit", Unit.MOPS_PER_S, null,
                () -> TranslateFixture.smmuv3(true));
        add("smmuv3-dma/translate-walk", "SMMUv3 stage-1 STE + CD: DMA translate, full 4-level walk (TLB off)",
                Unit.MOPS_PER_S, null, () -> TranslateFixture.smmuv3(false));
        // The DMA API on a VT-d default domain (issue 15's targets, one thread: strict pair <= 1 us,
        // lazy pair <= 400 ns, IOVA alloc+free <= 100 ns). The one published kernel dma_map_benchmark
        // figure for one thread and 4K is Arm Morello + SMMUv3: map 0.1 us + unmap 0.6 us (another
        // machine and IOMMU; the mode is not stated); none for lazy or the IOVA allocator alone.
        add("dma-api/map-unmap-4k-strict", "VT-d strict: dma_map_single + dma_unmap_single of 4K (ns per pair)",
                Unit.NS_PER_OP, KernelReference.dmaMapBenchmarkMorello(), () -> DmaApiFixture.mapUnmap(true));
        add("dma-api/map-unmap-4k-lazy", "VT-d lazy (DMA-FQ): dma_map_single + dma_unmap_single of 4K (ns per pair)",
                Unit.NS_PER_OP, null, () -> DmaApiFixture.mapUnmap(false));
        add("dma-api/iova-alloc-free-4k", "IOVA alloc_iova_fast + free_iova_fast of 4K through the per-CPU cache",
                Unit.NS_PER_OP, null, DmaApiFixture::iovaAllocFree);
        // SMMUv3 nested (issue 11): stage 1 over an identity stage 2, the same machine as the JMH bench.
        add("smmuv3-dma/nested-translate-hit", "SMMUv3 nested S1 + S2 STE: DMA translate, TLB hit", Unit.MOPS_PER_S,
                null, () -> TranslateFixture.smmuv3Nested(true));
        add("smmuv3-dma/nested-translate-walk", "SMMUv3 nested S1 + S2 STE: DMA translate, full S1 walk with each "
                + "table fetch through S2 (TLB off)", Unit.MOPS_PER_S, null, () -> TranslateFixture.smmuv3Nested(false));
    }

    private static void pgtable(Format f, Op op, KernelReference ref) {
        add(f.id + "/" + op.id, f.title + ": " + op.what, Unit.NS_PER_OP, ref, PageTableFixtures.fixture(f, op));
    }

    /** Registers one case; names are unique. */
    static void add(String name, String description, Unit unit, KernelReference ref,
                    java.util.function.Supplier<Fixture> fixture) {
        if (CASES.putIfAbsent(name, new BenchCase(name, description, unit, fixture, ref)) != null) {
            throw new IllegalStateException("duplicate bench case " + name);
        }
    }

    /** Every case, in run order. */
    public static List<BenchCase> all() {
        return List.copyOf(CASES.values());
    }

    /** The case of that exact name, or null. */
    public static BenchCase byName(String name) {
        return CASES.get(name);
    }

    /**
     * The cases a command line selects: each pattern is a case name or a prefix of names
     * ({@code vtd-sl} or {@code vtd-sl/} selects all VT-d second-level cases); none selects all.
     *
     * @throws IllegalArgumentException naming a pattern that selects nothing
     */
    public static List<BenchCase> select(List<String> patterns) {
        if (patterns == null || patterns.isEmpty()) {
            return all();
        }
        List<BenchCase> out = new ArrayList<>();
        for (String p : patterns) {
            boolean any = false;
            for (BenchCase c : CASES.values()) {
                if (c.name().startsWith(p)) {
                    any = true;
                    if (!out.contains(c)) {
                        out.add(c);
                    }
                }
            }
            if (!any) {
                throw new IllegalArgumentException("no bench case matches '" + p + "' (jiommu bench --list)");
            }
        }
        return out;
    }
}
