package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Aux domains and the context-switching GPU of the {@code smmuv2} kind through {@code jiommu run}. */
class Smmuv2AuxRunTest {
    @TempDir
    Path dir;

    /** Runs {@code steps} on a unit with split tables and a context-switching GPU (stream 0, the Adreno's). */
    private Cli run(String... steps) throws IOException {
        Path p = dir.resolve("s.yaml");
        Files.writeString(p, String.join("\n",
                "name: smmuv2 gpu",
                "platform:",
                "  memory: 64MiB",
                "  iommus:",
                "    - {name: smmu0, kind: smmuv2, split-tables: true}",
                "  devices:",
                "    - {name: gpu, bus: platform, iommu: smmu0, stream-ids: [0x0], context-switch: true}",
                "steps:",
                String.join("\n", steps), ""));
        return Cli.run("run", p.toString());
    }

    @Test
    @DisplayName("S11 split tables through jiommu run: the GPU's own domain in TTBR1 answers the sign-extended "
            + "IOVAs (a low IOVA is io-pgtable's -ERANGE), its aux table in TTBR0 the others, the switch moves only TTBR0; hw_dump shows both halves")
    void splitTables() throws IOException {
        Cli r = run(
                "  - iommu_dev_enable_feature: {dev: gpu, feature: aux}",
                "  - iommu_paging_domain_alloc: {dev: gpu}",
                "    as: global",
                "  - iommu_group_claim_dma_owner: {group: gpu, owner: msm}",
                "  - iommu_attach_group: {domain: global, group: gpu}",
                "  - iommu_map: {domain: global, iova: 0xffffff0000000000, paddr: 0x800000, size: 4KiB, prot: [read, write]}",
                "  - iommu_map: {domain: global, iova: 0x10000, paddr: 0x900000, size: 4KiB, prot: [read]}",
                "    expect: -ERANGE",
                "  - dma: {dev: gpu, iova: 0x10000, read: 4}",
                "    expect: fault",
                "  - iommu_paging_domain_alloc: {dev: gpu}",
                "    as: ctx1",
                "  - iommu_paging_domain_alloc: {dev: gpu}",
                "    as: ctx2",
                "  - iommu_aux_attach_device: {domain: ctx1, dev: gpu}",
                "  - iommu_aux_attach_device: {domain: ctx2, dev: gpu}",
                "  - iommu_domain_get_attr: {domain: ctx2, attr: ptbase}",
                "    as: t2",
                "  - iommu_map: {domain: ctx1, iova: 0x10000, paddr: 0x1000000, size: 4KiB, prot: [read, write]}",
                "  - iommu_map: {domain: ctx2, iova: 0x10000, paddr: 0x2000000, size: 4KiB, prot: [read, write]}",
                "  - dma: {dev: gpu, iova: 0xffffff0000000010, read: 4}",
                "    expect: {paddr: 0x800010}",
                "  - dma: {dev: gpu, iova: 0x10000, read: 4}",
                "    expect: {paddr: 0x1000000}",
                "  - gpu_switch_ttbr0: {dev: gpu, ttbr0: t2}",
                "  - dma: {dev: gpu, iova: 0x10000, read: 4}",
                "    expect: {paddr: 0x2000000}",
                "  - dma: {dev: gpu, iova: 0xffffff0000000010, read: 4}",
                "    expect: {paddr: 0x800010}",
                "  - hw_dump: {iommu: smmu0}",
                "  - check: invariants",
                "");
        assertThat(r.exit).as(r.out + r.err).isZero();
        assertThat(r.out).contains("TCR 0xb5103510 (T0SZ 16, T1SZ 16)")
                .contains("aux tables: ctx1 ").contains("ctx2 ").contains("(in TTBR0)");
    }

    @Test
    @DisplayName("S10 gpu_switch_ttbr0 of a master whose stream does not translate through a bank is a step error")
    void switchWithoutBank() throws IOException {
        Cli r = run(
                "  - gpu_switch_ttbr0: {dev: gpu, ttbr0: 0x100000}",
                "");
        assertThat(r.exit).isEqualTo(1);
        assertThat(r.out + r.err).contains("does not translate through a stage-1 context bank");
    }

    @Test
    @DisplayName("fail-nth over the GPU aux example and the basic one: every allocation failure (aux tables and "
            + "failed maps included) leaves the platform as it was, the levels a failed map installed counted with "
            + "their domain")
    void failNth() {
        for (String f : new String[] {"examples/smmuv2-gpu-aux.yaml", "examples/smmuv2-basic.yaml"}) {
            Cli r = Cli.run("fail-nth", f);
            assertThat(r.exit).as(r.out + r.err).isZero();
            assertThat(r.out).contains("0 differences: PASSED");
        }
    }
}
