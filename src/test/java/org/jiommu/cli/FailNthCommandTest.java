package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jiommu fail-nth}: the fail_nth sweep over a scenario file's steps. */
class FailNthCommandTest {
    @TempDir
    Path dir;

    @Test
    @DisplayName("an example file: every step printed with its sites swept, a map sweeps page-table pages, exit 0")
    void example() {
        Cli r = Cli.run("fail-nth", "examples/vtd-aux-mdev.yaml");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        assertThat(r.out).startsWith("fail-nth examples/vtd-aux-mdev.yaml: 32 steps");
        // the first map of a fresh domain allocates table levels: the FRAMES source fails each of them
        assertThat(r.out).containsPattern("(?m)^\\s+12  iommu_map \\{domain: mdev1.*core 0, frames [1-9]\\d*  ok$");
        // the global PASID allocation's failure is its INVALID result, judged like an errno
        assertThat(r.out).containsPattern("(?m)^\\s+24  iommu_alloc_global_pasid .*core [1-9]\\d*, frames 0  ok$");
        assertThat(r.out).contains("0 differences: PASSED");
    }

    @Test
    @DisplayName("a probe that fails at a hot-add may leave the device on its bus (not atomic) but no invariant broken")
    void hotplugNotAtomic() {
        Cli r = Cli.run("fail-nth", "examples/release-domain-rmr.yaml");
        assertThat(r.exit).as(r.out).isEqualTo(0);
        assertThat(r.out).containsPattern("(?m)^\\s+11  device_add .*core [1-9]\\d*, frames [1-9]\\d*  ok$");
    }

    @Test
    @DisplayName("a file that does not run green is refused with exit 1; an invalid one exits 2")
    void notGreen() throws IOException {
        Path f = dir.resolve("wrong.yaml");
        Files.writeString(f, String.join("\n",
                "name: a wrong expectation",
                "steps:",
                "  - mem_write: {paddr: 0x1000, data: \"cafe\"}",
                "  - mem_read: {paddr: 0x1000, size: 2}",
                "    expect: {value: \"beef\"}") + "\n");
        Cli r = Cli.run("fail-nth", f.toString());
        assertThat(r.exit).isEqualTo(1);
        assertThat(r.out).contains("the reference run fails at #2 mem_read").contains("FAILED");
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "name: x\nsteps:\n  - no_such_op: {}\n");
        assertThat(Cli.run("fail-nth", bad.toString()).exit).isEqualTo(2);
        assertThat(Cli.run("fail-nth", dir.resolve("missing.yaml").toString()).exit).isEqualTo(2);
    }

    @Test
    @DisplayName("a failure the kernel cannot take back is a difference: VT-d's release of DMA ownership WARNs, exit 1")
    void differenceExits1() throws IOException {
        Path f = dir.resolve("release.yaml");
        Files.writeString(f, String.join("\n",
                "name: release of DMA ownership on VT-d",
                "platform:",
                "  iommus:",
                "    - {name: dmar0, kind: vtd}",
                "  devices:",
                "    - {name: nic0, bus: pci, bdf: \"00:02.0\", iommu: dmar0}",
                "steps:",
                "  - iommu_group_claim_dma_owner: {group: nic0, owner: vfio}",
                "  - iommu_paging_domain_alloc: {dev: nic0}",
                "    as: guest",
                "  - iommu_attach_group: {domain: guest, group: nic0}",
                "  - iommu_detach_group: {domain: guest, group: nic0}",
                "  - iommu_group_release_dma_owner: {group: nic0}") + "\n");
        Cli r = Cli.run("fail-nth", f.toString());
        assertThat(r.exit).as(r.out).isEqualTo(1);
        assertThat(r.out).containsPattern("(?m)^\\s+5  iommu_group_release_dma_owner .*DIFFERENT$")
                .contains("WARN").contains("1 difference: FAILED");
    }
}
