package org.jiommu.bench;

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
        // Page tables: kernel figures of the 2026-12-06 sitting (issue 17), ns per call:
        // kernel median range, then jiommu's JMH score of the same sitting.
        pgtable(ARM_LPAE_S1, MAP_4K, KernelReference.ioPgtableArm(23, 25, 26, 37));
        pgtable(ARM_LPAE_S1, UNMAP_4K, KernelReference.ioPgtableArm(22, 28, 24, 27));
        pgtable(ARM_LPAE_S1, MAP_256X4K, KernelReference.ioPgtableArm(668, 692, 220, 223));
        pgtable(ARM_LPAE_S1, UNMAP_256X4K, KernelReference.ioPgtableArm(339, 355, 291, 312));
        pgtable(ARM_LPAE_S1, MAP_2M, KernelReference.ioPgtableArm(23, 26, 26, 27));
        pgtable(ARM_LPAE_S1, IOVA_TO_PHYS, KernelReference.ioPgtableArm(36, 45, 22, 27));
        pgtable(VTD_SL, MAP_4K, KernelReference.genericPtVtdss(30, 35, 30, 34));
        pgtable(VTD_SL, UNMAP_4K, KernelReference.genericPtVtdss(42, 63, 28, 31));
        pgtable(VTD_SL, MAP_256X4K, KernelReference.genericPtVtdss(715, 816, 257, 302));
        pgtable(VTD_SL, UNMAP_256X4K, KernelReference.genericPtVtdss(540, 822, 229, 291));
        pgtable(VTD_SL, MAP_2M, KernelReference.genericPtVtdss(51, 65, 32, 36));
        pgtable(VTD_SL, IOVA_TO_PHYS, KernelReference.genericPtVtdss(24, 25, 24, 30));
        for (Op op : Op.values()) {
            pgtable(X86_FL, op, null); // no kernel figure for the x86 first-level format
        }
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
