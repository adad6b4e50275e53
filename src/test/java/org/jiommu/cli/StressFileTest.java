package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jiommu stress SCENARIO.yaml} stresses the file's own platform (docs/check.md 6): its
 * devices, groups and IOMMUs, with the bed's roles derived from them ({@code check.PlatformBed}).
 * Every asserted outcome comes from a serial run (a function of the seed).
 */
class StressFileTest {
    @TempDir
    Path dir;

    /**
     * A VT-d platform with everything a full run uses: a DMA-API device, a PASID function with
     * PRI, a two-function card (one group) and two plain functions alone in their groups (the
     * two workers' DMA lanes), memory reaching the workers' DMA windows.
     */
    private Path lanes() throws IOException {
        Path p = dir.resolve("lanes.yaml");
        Files.writeString(p, String.join("\n",
                "name: a VT-d machine with DMA lanes",
                "platform:",
                "  memory: 8GiB",
                "  iommus:",
                "    - {name: dmar0, kind: vtd}",
                "  devices:",
                "    - {name: nic0, bus: pci, bdf: \"00:02.0\", iommu: dmar0, caps: [ats], driver: dma-api}",
                "    - {name: acc0, bus: pci, bdf: \"00:03.0\", iommu: dmar0, caps: [ats, pasid, pri]}",
                "    - {name: fn0, bus: pci, bdf: \"00:04.0\", iommu: dmar0, acs: false}",
                "    - {name: fn1, bus: pci, bdf: \"00:04.1\", iommu: dmar0, acs: false}",
                "    - {name: dma0, bus: pci, bdf: \"00:05.0\", iommu: dmar0}",
                "    - {name: dma1, bus: pci, bdf: \"00:06.0\", iommu: dmar0, caps: [ats]}",
                "steps:",
                "  - iommu_group_id: {dev: nic0}",
                "") + "\n");
        return p;
    }

    @Test
    @DisplayName("examples/q35-topology.yaml is stressed on its own devices and groups (no lanes: none is alone"
            + " in its group, said as a note): serial seeds 1-2 and a free seed, 0 violations")
    void q35() {
        Cli r = Cli.run("stress", "examples/q35-topology.yaml", "--seeds", "1..2", "--threads", "4", "--ops", "300",
                "--serial");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        assertThat(r.out).contains("on vtd: 11 shared devices (rp1, nic0, nic1, rp2, p2p, pci0, pci1, rp3, lpc, sata, smbus)")
                .contains("0 DMA lanes").contains("note: no DMA lanes").contains("note: no PASID churn")
                .contains("0 violations").contains("PASSED");
        Cli free = Cli.run("stress", "examples/q35-topology.yaml", "--seed", "3", "--threads", "4", "--ops", "300");
        assertThat(free.exit).as(free.out + free.err).isEqualTo(0);
    }

    @Test
    @DisplayName("the SMMU examples are stressed on their own platforms with 0 violations: release-domain-rmr.yaml"
            + " (SMMUv3, an RMR device) and smmuv2-basic.yaml (4 context banks: -ENOSPC is a legal attach answer)")
    void smmuExamples() {
        for (String f : new String[] {"examples/release-domain-rmr.yaml", "examples/smmuv2-basic.yaml"}) {
            Cli r = Cli.run("stress", f, "--seeds", "1..2", "--threads", "4", "--ops", "300", "--serial");
            assertThat(r.exit).as(f + "\n" + r.out + r.err).isEqualTo(0);
            assertThat(r.out).contains("0 violations").contains("PASSED");
        }
        Cli v3 = Cli.run("stress", "examples/release-domain-rmr.yaml", "--seed", "1", "--threads", "4", "--ops", "300",
                "--serial");
        assertThat(v3.out).contains("on smmuv3: 3 shared devices (nic0, rmr0, vf0)");
    }

    @Test
    @DisplayName("a file with lanes and a PASID function runs the full mix on its own devices, clean: DMAs checked"
            + " on the file's lone functions, the PASID churn on its PRI function")
    void fullMixClean() throws IOException {
        Cli r = Cli.run("stress", lanes().toString(), "--seeds", "1..2", "--threads", "2", "--ops", "300", "--serial");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        assertThat(r.out).contains("on vtd: 4 shared devices (nic0, acc0, fn0, fn1), 1 with PASIDs, 2 DMA lanes")
                .doesNotContain("note:").contains("0 violations");
        long dmas = Long.parseLong(r.out.replaceAll("(?s).* (\\d+) DMAs checked.*", "$1"));
        assertThat(dmas).isPositive();
    }

    /** A file of one VT-d unit ({@code scalable} as given) and the devices given. */
    private Path vtdFile(String name, boolean scalable, String... devices) throws IOException {
        Path p = dir.resolve(name);
        StringBuilder y = new StringBuilder("name: " + name + "\nplatform:\n  memory: 256MiB\n  iommus:\n"
                + "    - {name: dmar0, kind: vtd, scalable: " + scalable + "}\n  devices:\n");
        for (String d : devices) {
            y.append("    - ").append(d).append('\n');
        }
        y.append("steps:\n  - iommu_group_id: {dev: nic0}\n");
        Files.writeString(p, y.toString());
        return p;
    }

    @Test
    @DisplayName("stray-pasid-entry names the built-in bed's a2: on a file it corrupts the file's equivalent (its"
            + " first shared PCI function without PASIDs behind a scalable-mode unit, nic0 here) and I7 catches it")
    void plantMappedToFileDevice() throws IOException {
        Path f = vtdFile("mapped.yaml", true, "{name: nic0, bus: pci, bdf: \"00:02.0\", iommu: dmar0, caps: [ats]}");
        Cli r = Cli.run("stress", f.toString(), "--seed", "7", "--threads", "2", "--ops", "300", "--serial",
                "--plant", "stray-pasid-entry", "--repro-dir", dir.toString());
        assertThat(r.exit).as(r.out + r.err).isEqualTo(1);
        assertThat(r.out).contains("FAIL vtd seed 7").contains("I7 at quiescent point 2: dmar0: nic0 PASID 5");
        Cli control = Cli.run("stress", f.toString(), "--seed", "7", "--threads", "2", "--ops", "300", "--serial");
        assertThat(control.exit).as(control.out + control.err).isEqualTo(0);
    }

    @Test
    @DisplayName("a plant a file's platform has no equivalent for is refused with the reason (exit 2), never a run"
            + " that plants nothing: stray-pasid-entry on a legacy-mode unit or with only PASID functions,"
            + " set-dev-pasid-eio and rogue-pasid-free without the PASID churn, skip-iotlb-invalidation without"
            + " lanes or SVA DMA")
    void plantRefusedOnFile() throws IOException {
        Path legacy = vtdFile("legacy.yaml", false, "{name: nic0, bus: pci, bdf: \"00:02.0\", iommu: dmar0}");
        Path pasidOnly = vtdFile("pasid.yaml", true,
                "{name: nic0, bus: pci, bdf: \"00:02.0\", iommu: dmar0, caps: [ats, pasid, pri]}");
        for (Path f : new Path[] {legacy, pasidOnly}) {
            Cli r = Cli.run("stress", f.toString(), "--seed", "7", "--threads", "2", "--ops", "50", "--serial",
                    "--plant", "stray-pasid-entry");
            assertThat(r.exit).as(f + "\n" + r.out + r.err).isEqualTo(2);
            assertThat(r.err).contains("--plant stray-pasid-entry cannot be planted on " + f + "'s own platform (vtd)")
                    .contains("a shared PCI function without PASIDs (the built-in bed's a2)")
                    .contains("--builtin-bed");
            assertThat(r.out).doesNotContain("FAIL").doesNotContain("PASSED");
        }
        Cli noLanes = Cli.run("stress", legacy.toString(), "--seed", "7", "--threads", "2", "--ops", "50", "--serial",
                "--plant", "skip-iotlb-invalidation");
        assertThat(noLanes.exit).as(noLanes.out + noLanes.err).isEqualTo(2);
        assertThat(noLanes.err).contains("seen only by DMA");
        for (String plant : new String[] {"set-dev-pasid-eio", "rogue-pasid-free"}) {
            Cli r = Cli.run("stress", "examples/vfio-passthrough.yaml", "--seed", "7", "--threads", "2", "--ops", "50",
                    "--serial", "--plant", plant);
            assertThat(r.exit).as(plant + "\n" + r.out + r.err).isEqualTo(2);
            assertThat(r.err).contains("--plant " + plant + " cannot be planted").contains("no PASID churn");
        }
    }

    @Test
    @DisplayName("a planted bug is caught on a file's own platform: skip-iotlb-invalidation, a lane DMA after its"
            + " unmap lands on dma1; the reproducing scenario runs on the file's platform, fails at that DMA and"
            + " passes without its plant step")
    void plantCaughtOnFile() throws IOException {
        Path f = lanes();
        Cli r = Cli.run("stress", f.toString(), "--seed", "7", "--threads", "2", "--ops", "300", "--serial",
                "--plant", "skip-iotlb-invalidation", "--repro-dir", dir.toString());
        assertThat(r.exit).as(r.out + r.err).isEqualTo(1);
        assertThat(r.out).contains("FAIL vtd seed 7").contains("landed")
                .contains("again: jiommu stress " + f + " --seed 7");
        Path repro = dir.resolve("stress-vtd-seed7-skip-iotlb-invalidation.yaml");
        assertThat(repro).exists();
        String text = Files.readString(repro);
        assertThat(text).contains("{name: dma1, bus: pci").doesNotContain("dma-api");
        Cli planted = Cli.run("run", repro.toString());
        assertThat(planted.exit).as(planted.out).isEqualTo(1);
        assertThat(planted.out).contains("dma");
        Path unplanted = dir.resolve("unplanted.yaml");
        Files.writeString(unplanted, text.replace("  - plant: {name: skip-iotlb-invalidation}\n", ""));
        assertThat(Cli.run("run", unplanted.toString()).exit).isEqualTo(0);
    }

    @Test
    @DisplayName("a file that cannot be stressed is refused with exit 2 and the reason: no device behind its IOMMU")
    void refused() throws IOException {
        Path p = dir.resolve("empty.yaml");
        Files.writeString(p, String.join("\n",
                "name: an IOMMU with nothing behind it",
                "platform:",
                "  iommus:",
                "    - {name: dmar0, kind: vtd}",
                "  devices:",
                "    - {name: lonely, bus: pci, bdf: \"00:02.0\"}",
                "steps:",
                "  - iommu_group_id: {dev: lonely}",
                "") + "\n");
        Cli r = Cli.run("stress", p.toString(), "--ops", "10");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(2);
        assertThat(r.err).contains("cannot be stressed on vtd").contains("no probed device behind a vtd IOMMU");
    }
}
