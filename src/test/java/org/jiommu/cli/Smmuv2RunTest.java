package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code smmuv2} kind through {@code jiommu run}: its platform, DMA, fault words, hw_dump; what it refuses. */
class Smmuv2RunTest {
    @TempDir
    Path dir;

    private String file(String iommuOptions, String deviceExtra, String... steps) throws IOException {
        Path p = dir.resolve("s.yaml");
        Files.writeString(p, String.join("\n",
                "name: smmuv2",
                "platform:",
                "  memory: 64MiB",
                "  iommus:",
                "    - {name: smmu0, kind: smmuv2" + iommuOptions + "}",
                "  devices:",
                "    - {name: camera, bus: platform, iommu: smmu0, stream-ids: [0x10]" + deviceExtra + "}",
                "    - {name: dsp, bus: platform, iommu: smmu0, stream-ids: [0x20, 0x21], driver: dma-api}",
                "steps:",
                String.join("\n", steps), ""));
        return p.toString();
    }

    @Test
    @DisplayName("smmuv2: a paging domain gets a context bank, DMA lands through it, after unmap the DMA takes a TF "
            + "context fault whose FSR/FAR/FSYNR0 hw_dump shows in the bank; detached (blocked) the S2CR faults")
    void lifeCycle() throws IOException {
        Cli r = Cli.run("run", file(", context-banks: 4", "",
                "  - iommu_group_claim_dma_owner: {group: camera, owner: vfio}",
                "  - iommu_paging_domain_alloc: {dev: camera}",
                "    as: cam",
                "  - iommu_attach_group: {domain: cam, group: camera}",
                "  - iommu_map: {domain: cam, iova: 0x100000, paddr: 0x800000, size: 8KiB, prot: [read, write]}",
                "  - dma: {dev: camera, iova: 0x101000, write: 4, data: \"a1b2c3d4\"}",
                "    expect: {paddr: 0x801000}",
                "  - mem_read: {paddr: 0x801000, size: 4}",
                "    expect: {value: \"a1b2c3d4\"}",
                "  - iommu_unmap: {domain: cam, iova: 0x100000, size: 8KiB}",
                "    expect: {value: 8KiB}",
                "  - dma: {dev: camera, iova: 0x101000, write: 4}",
                "    expect: {fault: not-present}",
                "  - hw_dump: {iommu: smmu0}",
                "  - stats: {iommu: smmu0}",
                "  - iommu_detach_group: {domain: cam, group: camera}",
                "  - dma: {dev: camera, iova: 0x100000, read: 4}",
                "    expect: {fault: blocked}",
                "  - iommu_group_release_dma_owner: {group: camera}",
                "  - iommu_domain_free: {domain: cam}",
                "  - check: invariants",
                "    expect: {violations: 0}"));
        assertThat(r.exit).as(r.out + r.err).isZero();
        // camera's default domain holds CB0, dsp's CB1, the new domain CB2 (ASID 2)
        assertThat(r.out).contains("context fault TF (CB2) at iova 0x101000")
                .contains("16 SMRs, 4 context banks")
                .contains("SMR0   id 0x0010 mask 0x0000  S2CR 0x00000002 translate CB2  <- camera")
                .contains("SMR1   id 0x0020 mask 0x0000  S2CR 0x00000001 translate CB1  <- dsp")
                .contains("SMR2   id 0x0021 mask 0x0000  S2CR 0x00000001 translate CB1  <- dsp")
                .contains("CB2   <- cam")
                .contains("TTBR0 0x3002000 ASID 2")
                .contains("TCR 0x803510 (T0SZ 16, TTBR1 walks disabled)")
                // a write (WNR) at level 3 (PLVL 3) after the leaf was cleared
                .contains("FSR 0x2 (TF)  FAR 0x101000  FSYNR0 0x13")
                .contains("faults: 1 context, 0 global")
                .contains("S2CR fault at iova 0x100000");
    }

    @Test
    @DisplayName("smmuv2: what the driver does not build is refused when the platform is built, naming why")
    void refused() throws IOException {
        String[] steps = {"  - check: invariants"};
        Cli g = Cli.run("run", file(", granule: 64k", "", steps));
        assertThat(g.exit).isEqualTo(1);
        assertThat(g.out + g.err).contains("granule 64k is not supported");
        // split tables and context-switching masters are built since the aux domains (issue 12)
        Cli s = Cli.run("run", file(", split-tables: true", ", context-switch: true", steps));
        assertThat(s.exit).as(s.out + s.err).isZero();
        Cli ok = Cli.run("run", file("", "", steps));
        assertThat(ok.exit).as(ok.out + ok.err).isZero();
    }

    @Test
    @DisplayName("smmuv2 has a stress bed (issue 12 step 4): a stress run of an smmuv2 file runs it and passes")
    void stressBed() throws IOException {
        Cli r = Cli.run("stress", file("", "", "  - check: invariants"), "--ops", "50");
        assertThat(r.exit).as(r.out + r.err).isZero();
        assertThat(r.out).contains("x smmuv2").contains("PASSED");
        Cli list = Cli.run("stress", "--list-plants");
        assertThat(list.exit).isZero();
    }

    @Test
    @DisplayName("smmuv2: PCI functions get their requester id as stream id and PCI grouping (two functions "
            + "without ACS share a group, so iommu_attach_device refuses one); DMA of each lands in the shared domain")
    void pciMasters() throws IOException {
        Path p = dir.resolve("pci.yaml");
        Files.writeString(p, String.join("\n",
                "name: smmuv2 pci",
                "platform:",
                "  memory: 64MiB",
                "  iommus:",
                "    - {name: smmu0, kind: smmuv2}",
                "  devices:",
                "    - {name: f0, bus: pci, bdf: \"00:02.0\", iommu: smmu0, acs: false}",
                "    - {name: f1, bus: pci, bdf: \"00:02.1\", iommu: smmu0, acs: false}",
                "steps:",
                "  - iommu_group_claim_dma_owner: {group: f0, owner: vfio}",
                "  - iommu_paging_domain_alloc: {dev: f0}",
                "    as: g",
                "  - iommu_attach_device: {domain: g, dev: f0}",
                "    expect: -EINVAL",
                "  - iommu_attach_group: {domain: g, group: f1}",
                "  - iommu_map: {domain: g, iova: 0x1000, paddr: 0x400000, size: 4KiB, prot: [read, write]}",
                "  - dma: {dev: f0, iova: 0x1000, read: 4}",
                "    expect: {paddr: 0x400000}",
                "  - dma: {dev: f1, iova: 0x1004, read: 4}",
                "    expect: {paddr: 0x400004}",
                "  - hw_dump: {iommu: smmu0}",
                "  - check: invariants",
                "    expect: {violations: 0}",
                ""));
        Cli r = Cli.run("run", p.toString());
        assertThat(r.exit).as(r.out + r.err).isZero();
        // requester ids 00:02.0 = 0x10, 00:02.1 = 0x11
        assertThat(r.out).contains("id 0x0010 mask 0x0000").contains("<- f0").contains("id 0x0011 mask 0x0000")
                .contains("<- f1");
    }
}
