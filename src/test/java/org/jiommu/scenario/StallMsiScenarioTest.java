package org.jiommu.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.jiommu.scenario.PasidOpsTest.assertAllPassed;
import static org.jiommu.scenario.PasidOpsTest.run;

import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The scenario words for the SMMUv3 stall model and MSI doorbells (issue 11): the unit option
 * {@code stall-model}, the device key {@code dma-can-stall} (declared through the kind's
 * DeviceRules), {@code mm_mmap} / {@code mm_translate}, {@code dma_prepare_msi},
 * {@code iommu_get_msi_cookie} and the doorbell pages in {@code hw_dump}.
 */
class StallMsiScenarioTest {
    private static final String STALL = String.join("\n",
            "platform:",
            "  memory: 256MiB",
            "  iommus:",
            "    - {name: smmu0, kind: smmuv3, stall-model: true}",
            "  devices:",
            "    - {name: acc, bus: platform, iommu: smmu0, stream-ids: [0x400], pasid-bits: 16, dma-can-stall: %s}",
            "    - {name: nic, bus: pci, bdf: \"00:04.0\", iommu: smmu0, driver: dma-api}",
            "    - {name: lone, bus: pci, bdf: \"00:07.0\"}",
            "");

    private static final String[] SVA_PREFIX = {
        "  - mm_create: {name: proc}",
        "  - mm_mmap: {mm: proc, va: 0x400000, size: 16KiB, prot: [read, write]}",
        "  - iommu_sva_bind_device: {dev: acc, mm: proc}",
        "    as: h",
        "  - mm_translate: {mm: proc, va: 0x401000}",
        "    expect: {value: 0}",
    };

    private static String[] steps(String[] prefix, String... more) {
        String[] out = new String[prefix.length + more.length];
        System.arraycopy(prefix, 0, out, 0, prefix.length);
        System.arraycopy(more, 0, out, prefix.length, more.length);
        return out;
    }

    private static String text(ScenarioRunner.StepReport r) {
        return ((Outcome.Report) r.outcome()).text();
    }

    private static long number(ScenarioRunner.StepReport r) {
        return ((Value.Num) ((Outcome.Returned) r.outcome()).value()).value();
    }

    @Test
    @DisplayName("dma-can-stall: true on an smmuv3 with stall-model: true: the SVA write to an untouched page stalls,"
            + " the page is faulted in, the retried DMA lands there; hw_dump shows CD.S on the master's CDs and"
            + " S1STALLD on the PCI function's STE")
    void stallingMasterFaultsPageIn() throws Exception {
        List<ScenarioRunner.StepReport> r = run(String.format(STALL, "true"), steps(SVA_PREFIX,
                "  - dma: {dev: acc, pasid: 1, iova: 0x401010, write: 4, data: \"01020304\"}",
                "  - mm_translate: {mm: proc, va: 0x401010}",
                "    as: filled",
                "  - dma: {dev: acc, pasid: 1, iova: 0x401010, read: 4}",
                "    expect: {paddr: filled}",
                "  - mem_read: {paddr: filled, size: 4}",
                "    expect: {value: \"01020304\"}",
                "  - dma: {dev: acc, pasid: 1, iova: 0x900000, read: 4}",
                "    expect: fault",
                "  - hw_dump: {iommu: smmu0}",
                "  - check: invariants"));
        assertAllPassed(r);
        long filled = number(r.get(5));
        assertThat(filled).isNotZero();
        assertThat(filled & 0xfff).isEqualTo(0x10);
        String dump = text(r.get(9));
        assertThat(dump.lines().filter(l -> l.contains("CD 1:"))).singleElement()
                .satisfies(l -> assertThat(l).contains("S (faults stall)"));
        assertThat(dump.lines().filter(l -> l.contains("nic sid"))).singleElement()
                .satisfies(l -> assertThat(l).contains("S1STALLD"));
        assertThat(dump.lines().filter(l -> l.contains("acc sid"))).singleElement()
                .satisfies(l -> assertThat(l).doesNotContain("S1STALLD"));
    }

    @Test
    @DisplayName("without dma-can-stall the same write terminates (not-present) and the page stays unpopulated;"
            + " dma-can-stall: false is accepted anywhere")
    void withoutPropertyNoStall() throws Exception {
        List<ScenarioRunner.StepReport> r = run(String.format(STALL, "false"), steps(SVA_PREFIX,
                "  - dma: {dev: acc, pasid: 1, iova: 0x401010, write: 4, data: \"01020304\"}",
                "    expect: fault",
                "  - mm_translate: {mm: proc, va: 0x401000}",
                "    expect: {value: 0}",
                "  - hw_dump: {iommu: smmu0}"));
        assertAllPassed(r);
        assertThat(text(r.get(6))).contains("S1STALLD").doesNotContain("S (faults stall)");
        assertThat(r.get(4).outcome().show()).contains("not-present");
    }

    private static List<Problem> problems(String iommus, String device) {
        String f = "name: t\nplatform:\n  iommus:\n" + iommus + "\n  devices:\n" + device
                + "\nsteps:\n  - mem_read: {paddr: 0, size: 4}\n";
        InvalidScenarioException e = catchThrowableOfType(() -> ScenarioReader.read("t.yaml", f),
                InvalidScenarioException.class);
        assertThat(e).as("refused: " + device).isNotNull();
        return e.problems();
    }

    @Test
    @DisplayName("dma-can-stall: true is refused at its key's line and column behind a mock, an smmuv2, an smmuv3"
            + " without stall-model, on a PCI function, and on a device without IOMMU")
    void refusedWhereNoStallModel() throws Exception {
        String dev = "    - {name: dsp, bus: platform, iommu: u0, stream-ids: [0x10], dma-can-stall: true}";
        int col = dev.indexOf("dma-can-stall") + 1;
        for (String kind : List.of("mock", "smmuv2", "smmuv3")) {
            assertThat(problems("    - {name: u0, kind: " + kind + "}", dev)).singleElement().satisfies(p -> {
                assertThat(p.loc().line()).isEqualTo(6);
                assertThat(p.loc().column()).isEqualTo(col);
                assertThat(p.message()).startsWith("device 'dsp': dma-can-stall applies only to masters behind"
                        + " an smmuv3 with stall-model: true");
            });
        }
        String pci = "    - {name: nic, bus: pci, bdf: \"00:04.0\", iommu: u0, dma-can-stall: true}";
        assertThat(problems("    - {name: u0, kind: smmuv3, stall-model: true}", pci)).singleElement()
                .satisfies(p -> assertThat(p.message()).contains("applies to platform masters"));
        assertThat(problems("    - {name: u0, kind: vtd}", pci)).singleElement()
                .satisfies(p -> assertThat(p.loc().column()).isEqualTo(pci.indexOf("dma-can-stall") + 1));
        String none = "    - {name: dsp, bus: platform, dma-can-stall: true}";
        assertThat(problems("    - {name: u0, kind: smmuv3, stall-model: true}", none)).singleElement()
                .satisfies(p -> assertThat(p.message()).contains("(the device has no iommu)"));
        // accepted where the kind's rules allow it
        ScenarioReader.read("t.yaml", "name: t\n" + String.format(STALL, "true") + "steps:\n"
                + "  - mem_read: {paddr: 0, size: 4}\n");
    }

    @Test
    @DisplayName("dma_prepare_msi on a DMA domain: the doorbell page at 0xfffff000 (same page, same mapping), the"
            + " first dma_map just below, the MSI write reaches the doorbell, hw_dump lists the page; a device"
            + " without IOMMU gets the doorbell address itself")
    void msiOnDmaDomain() throws Exception {
        List<ScenarioRunner.StepReport> r = run(String.format(STALL, "false"),
                "  - dma_prepare_msi: {dev: nic, addr: 0x8090040}",
                "    expect: {value: 0xfffff040}",
                "    as: msi",
                "  - dma_prepare_msi: {dev: nic, addr: 0x8090044}",
                "    expect: {value: 0xfffff044}",
                "  - dma_map_single: {dev: nic, paddr: 0x100000, size: 4KiB, dir: to-device}",
                "    expect: {value: 0xffffe000}",
                "  - dma: {dev: nic, iova: msi, write: 4, data: \"2a000000\"}",
                "    expect: {paddr: 0x8090040}",
                "  - mem_read: {paddr: 0x8090040, size: 4}",
                "    expect: {value: \"2a000000\"}",
                "  - hw_dump: {iommu: smmu0}",
                "  - dma_prepare_msi: {dev: lone, addr: 0x8090040}",
                "    expect: {value: 0x8090040}",
                "  - check: invariants");
        assertAllPassed(r);
        assertThat(text(r.get(5)).lines().filter(l -> l.contains("MSI doorbell page"))).singleElement()
                .isEqualTo("  MSI doorbell page of default (D2): IOVA 0xfffff000 -> 0x8090000 (page table: 0x8090000)");
    }

    @Test
    @DisplayName("iommu_get_msi_cookie on a VFIO domain: doorbells from the SW_MSI base up (0x8000000, 0x8001000);"
            + " a second cookie -ENODEV; the MSI write lands; blocked or without a cookie the address itself")
    void msiCookieOnUnmanagedDomain() throws Exception {
        List<ScenarioRunner.StepReport> r = run(String.format(STALL, "false"),
                "  - driver_unbind: {dev: nic}",
                "  - iommu_group_claim_dma_owner: {group: nic, owner: vfio}",
                "  - iommu_paging_domain_alloc: {dev: nic}",
                "    as: guest",
                "  - iommu_get_msi_cookie: {domain: guest, base: 0x8000000}",
                "  - iommu_get_msi_cookie: {domain: guest, base: 0x8000000}",
                "    expect: -ENODEV",
                "  - iommu_attach_group: {domain: guest, group: nic}",
                "  - dma_prepare_msi: {dev: nic, addr: 0x8090040}",
                "    expect: {value: 0x8000040}",
                "  - dma_prepare_msi: {dev: nic, addr: 0x80a0040}",
                "    expect: {value: 0x8001040}",
                "  - dma: {dev: nic, iova: 0x8001040, write: 4, data: \"07000000\"}",
                "    expect: {paddr: 0x80a0040}",
                "  - iommu_detach_group: {domain: guest, group: nic}",
                "  - dma_prepare_msi: {dev: nic, addr: 0x8090040}",
                "    expect: {value: 0x8090040}",
                "  - iommu_paging_domain_alloc: {dev: nic}",
                "    as: other",
                "  - iommu_attach_group: {domain: other, group: nic}",
                "  - dma_prepare_msi: {dev: nic, addr: 0x8090040}",
                "    expect: {value: 0x8090040}",
                "  - check: invariants");
        assertAllPassed(r);
    }

    @Test
    @DisplayName("dma_prepare_msi with a doorbell beyond memory is the step's error, not a model crash")
    void doorbellBeyondMemory() throws Exception {
        List<ScenarioRunner.StepReport> r = run(String.format(STALL, "false"),
                "  - dma_prepare_msi: {dev: nic, addr: 0x40000000}");
        assertThat(r).singleElement().satisfies(x -> {
            assertThat(x.passed()).isFalse();
            assertThat(x.mismatch()).contains("beyond memory");
        });
    }
}
