package org.jiommu.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The PASID-granular ops through the runner: each op's good path and the errnos the core gives,
 * written as scenario expectations (a step whose result differs fails the test).
 */
class PasidOpsTest {
    private static final String MOCK = String.join("\n",
            "platform:",
            "  memory: 64MiB",
            "  iommus:",
            "    - {name: m0, kind: mock}",
            "  devices:",
            "    - {name: card, bus: pci, bdf: \"00:02.0\", iommu: m0, caps: [pasid], driver: dma-api}",
            "    - {name: plain, bus: pci, bdf: \"00:03.0\", iommu: m0}",
            "    - {name: lone, bus: pci, bdf: \"00:07.0\"}",
            "");

    /** Runs the steps on {@code platform}; returns every step's report. */
    static List<ScenarioRunner.StepReport> run(String platform, String... steps) throws InvalidScenarioException {
        Scenario s = ScenarioReader.read("t.yaml", "name: t\n" + platform + "steps:\n" + String.join("\n", steps) + "\n");
        List<ScenarioRunner.StepReport> out = new ArrayList<>();
        new ScenarioRunner(false).run(s, new ScenarioRunner.StepListener() {
            @Override
            public void begin(Scenario sc, String platformSummary) {
            }

            @Override
            public void step(Scenario sc, ScenarioRunner.StepReport report) {
                out.add(report);
            }

            @Override
            public void end(Scenario sc, ScenarioRunner.FileReport report) {
                assertThat(report.platformError()).isNull();
            }
        });
        return out;
    }

    /** Every step met its expectation (the failing ones are listed). */
    static void assertAllPassed(List<ScenarioRunner.StepReport> r) {
        List<String> failed = r.stream().filter(x -> !x.passed())
                .map(x -> x.step().number() + " " + x.step().written() + ": " + x.mismatch()).toList();
        assertThat(failed).isEmpty();
        assertThat(r).isNotEmpty();
    }

    @Test
    @DisplayName("PASID attach / replace / detach: DMA at the PASID follows the slot; -EINVAL for PASID 0, "
            + "replace of an empty slot; a device without PASIDs is skipped (nothing programmed); -EBUSY for a "
            + "taken slot; -ENODEV without IOMMU; freeing an attached domain WARNs")
    void pasidApi() throws Exception {
        assertAllPassed(run(MOCK,
                "  - iommu_paging_domain_alloc: {dev: card}",
                "    as: a",
                "  - iommu_paging_domain_alloc: {dev: card}",
                "    as: b",
                "  - iommu_map: {domain: a, iova: 0x1000, paddr: 0x100000, size: 4KiB, prot: [read, write]}",
                "  - iommu_map: {domain: b, iova: 0x1000, paddr: 0x200000, size: 4KiB, prot: [read, write]}",
                "  - iommu_replace_device_pasid: {domain: a, dev: card, pasid: 5}",
                "    expect: -EINVAL",
                "  - iommu_attach_device_pasid: {domain: a, dev: card, pasid: 0}",
                "    expect: -EINVAL",
                "  - iommu_attach_device_pasid: {domain: a, dev: plain, pasid: 5}",
                "  - iommu_detach_device_pasid: {domain: a, dev: plain, pasid: 5}",
                "  - iommu_attach_device_pasid: {domain: a, dev: lone, pasid: 5}",
                "    expect: -ENODEV",
                "  - iommu_attach_device_pasid: {domain: a, dev: card, pasid: 5}",
                "  - dma: {dev: card, pasid: 5, iova: 0x1000, read: 4}",
                "    expect: {paddr: 0x100000}",
                "  - iommu_attach_device_pasid: {domain: b, dev: card, pasid: 5}",
                "    expect: -EBUSY",
                "  - iommu_replace_device_pasid: {domain: b, dev: card, pasid: 5}",
                "  - dma: {dev: card, pasid: 5, iova: 0x1000, read: 4}",
                "    expect: {paddr: 0x200000}",
                "  - iommu_domain_free: {domain: b}",
                "    expect: warn",
                "  - iommu_detach_device_pasid: {domain: b, dev: card, pasid: 5}",
                "  - dma: {dev: card, pasid: 5, iova: 0x1000, read: 4}",
                "    expect: fault",
                "  - check: invariants"));
    }

    @Test
    @DisplayName("global PASIDs: lowest free from 1, a double free WARNs, no PASIDs gives IOMMU_PASID_INVALID, "
            + "no IOMMU -ENODEV")
    void globalPasids() throws Exception {
        assertAllPassed(run(MOCK,
                "  - iommu_alloc_global_pasid: {dev: card}",
                "    expect: {value: 1}",
                "    as: p1",
                "  - iommu_alloc_global_pasid: {dev: card}",
                "    expect: {value: 2}",
                "  - iommu_free_global_pasid: {pasid: p1}",
                "  - iommu_free_global_pasid: {pasid: p1}",
                "    expect: warn",
                "  - iommu_alloc_global_pasid: {dev: card}",
                "    expect: {value: 1}",
                "  - iommu_alloc_global_pasid: {dev: plain}",
                "    expect: {value: 0xffffffff}",
                "  - iommu_alloc_global_pasid: {dev: lone}",
                "    expect: -ENODEV",
                "  - check: invariants"));
    }

    @Test
    @DisplayName("S01 features are per device: has/enabled answer, enabling what the hardware lacks -EINVAL, "
            + "disabling AUX is always 0 (v5.x intel), no IOMMU -ENODEV")
    void features() throws Exception {
        assertAllPassed(run(MOCK,
                "  - iommu_dev_has_feature: {dev: card, feature: aux}",
                "    expect: {value: true}",
                "  - iommu_dev_has_feature: {dev: plain, feature: aux}",
                "    expect: {value: false}",
                "  - iommu_dev_has_feature: {dev: lone, feature: aux}",
                "    expect: {value: false}",
                "  - iommu_dev_enable_feature: {dev: plain, feature: aux}",
                "    expect: -EINVAL",
                "  - iommu_dev_disable_feature: {dev: card, feature: aux}",
                "  - iommu_dev_enable_feature: {dev: lone, feature: aux}",
                "    expect: -ENODEV",
                "  - iommu_dev_feature_enabled: {dev: card, feature: aux}",
                "    expect: {value: false}",
                "  - iommu_dev_enable_feature: {dev: card, feature: aux}",
                "  - iommu_dev_feature_enabled: {dev: card, feature: aux}",
                "    expect: {value: true}",
                "  - iommu_paging_domain_alloc: {dev: card}",
                "    as: d",
                "  - iommu_aux_attach_device: {domain: d, dev: card}",
                "  - iommu_dev_disable_feature: {dev: card, feature: aux}",
                "  - iommu_aux_detach_device: {domain: d, dev: card}",
                "  - iommu_dev_disable_feature: {dev: card, feature: aux}",
                "  - iommu_dev_feature_enabled: {dev: card, feature: aux}",
                "    expect: {value: false}"));
    }

    @Test
    @DisplayName("S03-S09 aux domains: refused without AUX, default PASID on first attach, DMA with it, "
            + "RID domains refused (S04), double attach -EBUSY, free while attached WARNs (S09), get_pasid after detach -EINVAL")
    void auxDomains() throws Exception {
        assertAllPassed(run(MOCK,
                "  - iommu_paging_domain_alloc: {dev: card}",
                "    as: d",
                "  - iommu_aux_attach_device: {domain: d, dev: card}",
                "    expect: -EINVAL",
                "  - iommu_dev_enable_feature: {dev: card, feature: aux}",
                "  - iommu_aux_get_pasid: {domain: d, dev: card}",
                "    expect: -EINVAL",
                "  - iommu_aux_attach_device: {domain: d, dev: card}",
                "  - iommu_aux_get_pasid: {domain: d, dev: card}",
                "    as: p",
                "    expect: {value: 1}",
                "  - iommu_aux_attach_device: {domain: d, dev: card}",
                "    expect: -EBUSY",
                "  - iommu_attach_device_pasid: {domain: d, dev: card, pasid: p}",
                "    expect: -EBUSY",
                "  - iommu_map: {domain: d, iova: 0x4000, paddr: 0x300000, size: 4KiB, prot: [read, write]}",
                "  - dma: {dev: card, pasid: p, iova: 0x4000, write: 2, data: \"abcd\"}",
                "    expect: {paddr: 0x300000}",
                "  - mem_read: {paddr: 0x300000, size: 2}",
                "    expect: {value: \"abcd\"}",
                "  - iommu_domain_free: {domain: d}",
                "    expect: warn",
                "  - iommu_group_claim_dma_owner: {group: plain, owner: vfio}",
                "  - iommu_attach_group: {domain: d, group: plain}",
                "    expect: -EINVAL",
                "  - iommu_aux_detach_device: {domain: d, dev: card}",
                "  - iommu_aux_get_pasid: {domain: d, dev: card}",
                "    expect: -EINVAL",
                "  - dma: {dev: card, pasid: p, iova: 0x4000, read: 2}",
                "    expect: fault",
                "  - iommu_alloc_global_pasid: {dev: card}",
                "    expect: {value: 1}",
                "  - check: invariants"));
    }

    @Test
    @DisplayName("S02 S10 context-switch aux model: AUX only for the declared GPU, PTBASE of the aux domain, "
            + "gpu_switch_ttbr0 makes its DMA walk the aux table; PTBASE of a RID domain -ENODEV")
    void contextSwitchGpu() throws Exception {
        String platform = String.join("\n",
                "platform:",
                "  memory: 64MiB",
                "  iommus:",
                "    - {name: smmu, kind: mock, aux-model: context-switch}",
                "  devices:",
                "    - {name: gpu, bus: platform, iommu: smmu, stream-ids: [0x10], context-switch: true, "
                        + "driver: dma-api}",
                "    - {name: dsp, bus: platform, iommu: smmu, stream-ids: [0x20]}",
                "");
        assertAllPassed(run(platform,
                "  - iommu_dev_has_feature: {dev: gpu, feature: aux}",
                "    expect: {value: true}",
                "  - iommu_dev_has_feature: {dev: dsp, feature: aux}",
                "    expect: {value: false}",
                "  - iommu_dev_enable_feature: {dev: gpu, feature: aux}",
                "  - iommu_paging_domain_alloc: {dev: gpu}",
                "    as: ctx",
                "  - iommu_domain_get_attr: {domain: ctx, attr: ptbase}",
                "    expect: -ENODEV",
                "  - iommu_aux_attach_device: {domain: ctx, dev: gpu}",
                "  - iommu_domain_get_attr: {domain: ctx, attr: ptbase}",
                "    as: ttbr",
                "  - iommu_map: {domain: ctx, iova: 0x8000, paddr: 0x500000, size: 4KiB, prot: [read, write]}",
                "  - dma: {dev: gpu, iova: 0x8000, read: 4}",
                "    expect: fault",
                "  - gpu_switch_ttbr0: {dev: gpu, ttbr0: ttbr}",
                "  - dma: {dev: gpu, iova: 0x8000, write: 4}",
                "    expect: {paddr: 0x500000}"));
    }

    @Test
    @DisplayName("SVA: DMA at the mm's PASID walks the process table; a second bind shares the handle; "
            + "mm_map refuses overlaps (-EEXIST) and partial pages (-EINVAL); no PASIDs -EOVERFLOW or -ENODEV")
    void sva() throws Exception {
        List<ScenarioRunner.StepReport> r = run(MOCK,
                "  - mm_create: {name: proc}",
                "  - mm_map: {mm: proc, va: 0x400000, paddr: 0x600000, size: 8KiB, prot: [read, write]}",
                "  - mm_map: {mm: proc, va: 0x401000, paddr: 0x700000, size: 4KiB, prot: [read]}",
                "    expect: -EEXIST",
                "  - mm_map: {mm: proc, va: 0x500000, paddr: 0x700000, size: 100, prot: [read]}",
                "    expect: -EINVAL",
                "  - iommu_sva_bind_device: {dev: card, mm: proc}",
                "    as: h",
                "  - iommu_sva_bind_device: {dev: card, mm: proc}",
                "    expect: {value: h}",
                "  - iommu_alloc_global_pasid: {dev: card}",
                "    expect: {value: 2}",
                "  - dma: {dev: card, pasid: 1, iova: 0x401010, write: 4, data: \"01020304\"}",
                "    expect: {paddr: 0x601010}",
                "  - mem_read: {paddr: 0x601010, size: 4}",
                "    expect: {value: \"01020304\"}",
                "  - check: invariants",
                "  - iommu_sva_unbind_device: {handle: h}",
                "  - dma: {dev: card, pasid: 1, iova: 0x400000, read: 4}",
                "    expect: {paddr: 0x600000}",
                "  - iommu_sva_unbind_device: {handle: h}",
                "  - dma: {dev: card, pasid: 1, iova: 0x400000, read: 4}",
                "    expect: fault",
                "  - iommu_sva_bind_device: {dev: lone, mm: proc}",
                "    expect: -ENODEV",
                "  - check: invariants");
        assertAllPassed(r);
        Value.Handle first = (Value.Handle) ((Outcome.Returned) r.get(4).outcome()).value();
        Value.Handle second = (Value.Handle) ((Outcome.Returned) r.get(5).outcome()).value();
        assertThat(first.handle()).isInstanceOf(org.jiommu.core.SvaHandle.class).isSameAs(second.handle());
        assertThat(first.name()).isEqualTo("h");
    }
}
