package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code smmuv3} kind through {@code jiommu run}: its platform, DMA, fault words, hw_dump, stats; what it refuses. */
class Smmuv3RunTest {
    @TempDir
    Path dir;

    private String file(String iommuOptions, String... steps) throws IOException {
        Path p = dir.resolve("s.yaml");
        Files.writeString(p, String.join("\n",
                "name: smmuv3",
                "platform:",
                "  memory: 64MiB",
                "  iommus:",
                "    - {name: smmu0, kind: smmuv3" + iommuOptions + "}",
                "  devices:",
                "    - {name: camera, bus: platform, iommu: smmu0, stream-ids: [0x400]}",
                "    - {name: nic, bus: pci, bdf: \"00:02.0\", iommu: smmu0, caps: [ats, pasid], driver: dma-api}",
                "steps:",
                String.join("\n", steps), ""));
        return p.toString();
    }

    @Test
    @DisplayName("smmuv3: a paging domain is a CD behind a CD-table STE, DMA lands through it, after unmap the DMA"
            + " takes F_TRANSLATION (not-present); blocked is an abort STE; hw_dump and stats show it")
    void lifeCycle() throws IOException {
        Cli r = Cli.run("run", file("",
                "  - iommu_group_claim_dma_owner: {group: camera, owner: vfio}",
                "  - iommu_paging_domain_alloc: {dev: camera}",
                "    as: cam",
                "  - iommu_attach_group: {domain: cam, group: camera}",
                "  - iommu_map: {domain: cam, iova: 0x100000, paddr: 0x800000, size: 8KiB, prot: [read, write]}",
                "  - dma: {dev: camera, iova: 0x101000, write: 4, data: \"a1b2c3d4\"}",
                "    expect: {paddr: 0x801000}",
                "  - mem_read: {paddr: 0x801000, size: 4}",
                "    expect: {value: \"a1b2c3d4\"}",
                "  - hw_dump: {iommu: smmu0}",
                "  - iommu_unmap: {domain: cam, iova: 0x100000, size: 8KiB}",
                "    expect: {value: 8KiB}",
                "  - dma: {dev: camera, iova: 0x101000, write: 4}",
                "    expect: {fault: not-present}",
                "  - stats: {iommu: smmu0}",
                "  - iommu_detach_group: {domain: cam, group: camera}",
                "  - dma: {dev: camera, iova: 0x100000, read: 4}",
                "    expect: {fault: blocked}",
                "  - iommu_group_release_dma_owner: {group: camera}",
                "  - iommu_domain_free: {domain: cam}",
                "  - check: invariants",
                "    expect: {violations: 0}"));
        assertThat(r.exit).as(r.out + r.err).isZero();
        // camera's default domain has ASID 1, nic's ASID 2, the new domain ASID 3
        assertThat(r.out).contains("stream table 2-level, 16 SID bits")
                .contains("camera sid 0x400: STE stage 1")
                .contains("CD 0: ASID 3")
                .contains("-> cam")
                .contains("nic sid 0x10: STE stage 1")
                .contains("EATS translate")
                .contains("F_TRANSLATION")
                .contains("STE.Config = abort at iova 0x100000")
                .contains("smmu0: TLB ");
    }

    @Test
    @DisplayName("smmuv3: the kind's option table and rules refuse what the SMMU or its model cannot be (exit 2, the"
            + " file is not valid); a stage-2-only linear-table SMMU runs")
    void refused() throws IOException {
        String[] steps = {"  - check: invariants"};
        Cli g = Cli.run("run", file(", granule: 16k", steps));
        assertThat(g.exit).isEqualTo(2);
        assertThat(g.err).contains("16k");
        Cli ias = Cli.run("run", file(", ias: 40, oas: 48", steps));
        assertThat(ias.exit).isEqualTo(2);
        assertThat(ias.out + ias.err).contains("ias 40 differs from oas 48");
        Cli cb = Cli.run("run", file(", context-banks: 4", steps));
        assertThat(cb.exit).isEqualTo(2);
        assertThat(cb.err).contains("unknown option 'context-banks'");
        Cli s2 = Cli.run("run", file(", stages: [s2], two-level-stream-table: false, sid-bits: 12", steps));
        assertThat(s2.exit).as(s2.out + s2.err).isZero();
    }

    @Test
    @DisplayName("smmuv3 stress bed: a serial run is clean; on the same seed the planted skip-cfgi (STE / CD writes"
            + " without CFGI) and skip-iotlb-invalidation (unmap without TLBI) are caught by the lanes' DMA")
    void stress() throws IOException {
        String f = file("", "  - check: invariants");
        String[] run = {"stress", f, "--builtin-bed", "--seed", "7", "--threads", "4", "--ops", "300", "--serial"};
        Cli clean = Cli.run(run);
        assertThat(clean.exit).as(clean.out + clean.err).isZero();
        assertThat(clean.out).contains("seeds 7 x smmuv3").contains("0 violations");
        Cli cfgi = Cli.run(withPlant(run, "skip-cfgi"));
        assertThat(cfgi.exit).as(cfgi.out + cfgi.err).isEqualTo(1);
        assertThat(cfgi.out).contains("FAIL smmuv3 seed 7").contains("plant skip-cfgi");
        Cli tlbi = Cli.run(withPlant(run, "skip-iotlb-invalidation"));
        assertThat(tlbi.exit).as(tlbi.out + tlbi.err).isEqualTo(1);
        assertThat(tlbi.out).contains("FAIL smmuv3 seed 7").contains("landed");
    }

    @Test
    @DisplayName("race 9 in the smmuv3 stress bed: with the ATC_INVs before the TLBI's CMD_SYNC (plant"
            + " atc-before-tlb-sync) a lane's ATS request between the batches refills a stale ATC entry and the"
            + " lane's DMA after the unmap lands; the kernel's order is clean on the same seed")
    void stressAtcBeforeTlbSync() throws IOException {
        String f = file("", "  - check: invariants");
        // the kind's built-in bed: it has the ATS lanes the plant needs (the file has none)
        String[] run = {"stress", f, "--builtin-bed", "--seed", "7", "--threads", "4", "--ops", "300", "--serial"};
        Cli clean = Cli.run(run);
        assertThat(clean.exit).as(clean.out + clean.err).isZero();
        Cli planted = Cli.run(withPlant(run, "atc-before-tlb-sync"));
        assertThat(planted.exit).as(planted.out + planted.err).isEqualTo(1);
        assertThat(planted.out).contains("FAIL smmuv3 seed 7").contains("plant atc-before-tlb-sync").contains("landed");
    }

    private static String[] withPlant(String[] run, String plant) {
        return java.util.stream.Stream.concat(java.util.Arrays.stream(run), java.util.stream.Stream.of("--plant", plant))
                .toArray(String[]::new);
    }
}
