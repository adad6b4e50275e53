package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jiommu stress}: exit codes, plants caught by serial runs (so the outcome is the seed's,
 * not the scheduler's), --list-plants, shard arithmetic, --json. Runs are short and on the mock
 * platform of a scenario file unless a VT-d plant needs VT-d.
 */
class StressCommandTest {
    @TempDir
    Path dir;

    /**
     * A platform with one mock IOMMU, stressed as it is: a plain function, a two-function card
     * (one group) and two PASID functions with PRI (the last with 3 PASID bits), so the PASID
     * churn runs and the mock's plants have their targets.
     */
    private Path mockPlatform() throws IOException {
        Path p = dir.resolve("mock.yaml");
        Files.writeString(p, String.join("\n",
                "name: a mock platform",
                "platform:",
                "  iommus:",
                "    - {name: m0, kind: mock}",
                "  devices:",
                "    - {name: nic0, bus: pci, bdf: \"00:02.0\", iommu: m0}",
                "    - {name: fn0, bus: pci, bdf: \"00:03.0\", iommu: m0, acs: false}",
                "    - {name: fn1, bus: pci, bdf: \"00:03.1\", iommu: m0, acs: false}",
                "    - {name: acc0, bus: pci, bdf: \"00:04.0\", iommu: m0, caps: [ats, pasid, pri]}",
                "    - {name: acc1, bus: pci, bdf: \"00:05.0\", iommu: m0, caps: [ats, pasid, pri], pasid-bits: 3}",
                "steps:",
                "  - iommu_group_id: {dev: nic0}",
                "") + "\n");
        return p;
    }

    @Test
    @DisplayName("a serial run with a plant exits 1 and names the kind, the seed, the shard and the last calls")
    void plantCaught() throws IOException {
        Cli r = Cli.run("stress", mockPlatform().toString(), "--seed", "7", "--threads", "4", "--ops", "300",
                "--serial", "--plant", "set-dev-pasid-eio");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(1);
        assertThat(r.out).contains("FAIL mock seed 7 (shard 1/1, serial").contains("plant set-dev-pasid-eio")
                .contains("EIO").contains("last 16 calls").contains("FAILED: mock seed 7");
        assertThat(r.out).contains("again: jiommu stress " + mockPlatform() + " --seed 7 --threads 4 --ops 300 --serial"
                + " --plant set-dev-pasid-eio");
    }

    @Test
    @DisplayName("the same serial run without the plant exits 0 with a PASSED summary")
    void controlClean() throws IOException {
        Cli r = Cli.run("stress", mockPlatform().toString(), "--seed", "7", "--threads", "4", "--ops", "300", "--serial");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        assertThat(r.out).contains("stress: 1 runs (seeds 7 x mock, shard 1/1, serial)").contains("0 violations")
                .contains("PASSED").doesNotContain("FAIL ");
    }

    @Test
    @DisplayName("a VT-d plant runs only on VT-d (the kind that has it) and is caught: exit 1 naming seed 7;"
            + " its reproducing scenario fails jiommu run at the same DMA, has fewer steps than the run's calls,"
            + " and passes without its plant step")
    void vtdPlantCaught() throws IOException {
        Cli r = Cli.run("stress", "--seed", "7", "--threads", "4", "--ops", "300", "--serial", "--plant",
                "skip-iotlb-invalidation", "--repro-dir", dir.toString());
        assertThat(r.exit).as(r.out + r.err).isEqualTo(1);
        assertThat(r.out).contains("FAIL vtd seed 7").contains("landed").doesNotContain("mock seed");

        Path f = dir.resolve("stress-vtd-seed7-skip-iotlb-invalidation.yaml");
        assertThat(r.out).contains("reproducing scenario: " + f);
        assertThat(f).exists();
        String text = Files.readString(f);
        long steps = text.lines().filter(l -> l.startsWith("  - ")).count();
        long calls = Long.parseLong(r.out.replaceAll("(?s).*last \\d+ calls \\(of (\\d+)\\).*", "$1"));
        assertThat(steps).isPositive().isLessThan(calls);
        // the run failed because a DMA after a completed unmap landed; the file fails at such a DMA
        Cli planted = Cli.run("run", f.toString());
        assertThat(planted.exit).as(planted.out).isEqualTo(1);
        assertThat(planted.out).contains("1 failed").containsPattern("dma \\{dev: lane\\d[^\\n]*\\n\\s+expected: fault\\n"
                + "\\s+actual:\\s+paddr");
        // the bug absent: the same steps without the plant pass
        Path unplanted = dir.resolve("unplanted.yaml");
        Files.writeString(unplanted, text.replaceAll("(?m)^  - plant: .*\\n", ""));
        assertThat(text).contains("  - plant: {name: skip-iotlb-invalidation}");
        Cli clean = Cli.run("run", unplanted.toString());
        assertThat(clean.exit).as(clean.out).isEqualTo(0);
    }

    @Test
    @DisplayName("--list-plants lists every kind's plants and the harness's, one line each, and exits 0")
    void listPlants() {
        Cli r = Cli.run("stress", "--list-plants");
        assertThat(r.exit).isEqualTo(0);
        List<String> lines = r.out.lines().toList();
        assertThat(lines).anyMatch(l -> l.matches("rogue-pasid-free\\s+any\\s+.*PASID.*"))
                .anyMatch(l -> l.matches("iopf-refcount-leak\\s+mock\\s+.*IOPF.*"))
                .anyMatch(l -> l.matches("set-dev-pasid-eio\\s+mock\\s+.*EIO.*"))
                .anyMatch(l -> l.matches("skip-iotlb-invalidation\\s+vtd,smmuv3\\s+.*IOTLB.*"))
                .anyMatch(l -> l.matches("stray-pasid-entry\\s+vtd\\s+.*PASID entry.*"))
                .anyMatch(l -> l.matches("skip-cfgi\\s+smmuv3\\s+.*CFGI.*"))
                .anyMatch(l -> l.matches("atc-before-tlb-sync\\s+smmuv3\\s+.*ATC.*TLBI.*"));
        assertThat(lines).hasSize(7);
    }

    @Test
    @DisplayName("--list-plants of a mock-only file lists only the mock's plants and the harness's")
    void listPlantsOfFile() throws IOException {
        Cli r = Cli.run("stress", mockPlatform().toString(), "--list-plants");
        assertThat(r.exit).isEqualTo(0);
        assertThat(r.out).contains("iopf-refcount-leak").contains("rogue-pasid-free").doesNotContain("vtd");
    }

    @Test
    @DisplayName("a plant no kind of the platform has, and malformed ranges and shards, exit 2")
    void usageErrors() throws IOException {
        String f = mockPlatform().toString();
        assertThat(Cli.run("stress", f, "--plant", "skip-iotlb-invalidation").exit).isEqualTo(2);
        assertThat(Cli.run("stress", f, "--plant", "skip-iotlb-invalidation").err).contains("no plant 'skip-iotlb-invalidation'");
        assertThat(Cli.run("stress", f, "--seeds", "5..2").exit).isEqualTo(2);
        assertThat(Cli.run("stress", f, "--seeds", "1..9", "--shard", "4/3").exit).isEqualTo(2);
        assertThat(Cli.run("stress", f, "--shard", "1/2").err).contains("--seeds");
        assertThat(Cli.run("stress", f, "--ops", "5", "--seconds", "1").exit).isEqualTo(2);
        assertThat(Cli.run("stress", dir.resolve("missing.yaml").toString()).exit).isEqualTo(2);
    }

    @Test
    @DisplayName("shards: I/N are consecutive parts differing by at most one seed, disjoint, covering the range")
    void shardArithmetic() {
        StressCommand.SeedRange r = new StressCommand.SeedRange(1, 10);
        assertThat(StressCommand.shard(r, 1, 3)).isEqualTo(new StressCommand.SeedRange(1, 3));
        assertThat(StressCommand.shard(r, 2, 3)).isEqualTo(new StressCommand.SeedRange(4, 6));
        assertThat(StressCommand.shard(r, 3, 3)).isEqualTo(new StressCommand.SeedRange(7, 10));
        assertThat(StressCommand.shard(new StressCommand.SeedRange(1, 2), 1, 3)).isNull();
        assertThat(StressCommand.shard(new StressCommand.SeedRange(1, 2), 3, 3)).isEqualTo(new StressCommand.SeedRange(2, 2));
        for (long first = -3; first <= 3; first++) {
            for (long count = 1; count <= 12; count++) {
                StressCommand.SeedRange range = new StressCommand.SeedRange(first, first + count - 1);
                for (int n = 1; n <= 7; n++) {
                    List<Long> seen = new ArrayList<>();
                    long min = Long.MAX_VALUE;
                    long max = 0;
                    for (int i = 1; i <= n; i++) {
                        StressCommand.SeedRange s = StressCommand.shard(range, i, n);
                        long size = s == null ? 0 : s.count();
                        min = Math.min(min, size);
                        max = Math.max(max, size);
                        for (long x = s == null ? 1 : s.first(); s != null && x <= s.last(); x++) {
                            seen.add(x);
                        }
                    }
                    List<Long> all = new ArrayList<>();
                    for (long x = range.first(); x <= range.last(); x++) {
                        all.add(x);
                    }
                    assertThat(seen).as(range + " in " + n).isEqualTo(all);
                    assertThat(max - min).as(range + " in " + n).isLessThanOrEqualTo(1);
                }
            }
        }
        assertThat(StressCommand.parseShard("2/5")).containsExactly(2, 5);
        assertThat(StressCommand.parseRange("3..8")).isEqualTo(new StressCommand.SeedRange(3, 8));
    }

    @Test
    @DisplayName("--seeds with --shard runs exactly its part of the range; a shard with no seed exits 0")
    void shardRuns() throws IOException {
        Cli r = Cli.run("stress", mockPlatform().toString(), "--seeds", "1..5", "--shard", "2/2", "--threads", "2",
                "--ops", "40", "--serial", "--json");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        ObjectMapper m = new ObjectMapper();
        List<Long> seeds = new ArrayList<>();
        JsonNode summary = null;
        for (String line : r.out.lines().toList()) {
            JsonNode n = m.readTree(line);
            if (n.has("summary")) {
                summary = n;
            } else {
                assertThat(n.get("kind").asText()).isEqualTo("mock");
                assertThat(n.get("shard").asText()).isEqualTo("2/2");
                assertThat(n.get("clean").asBoolean()).isTrue();
                seeds.add(n.get("seed").asLong());
            }
        }
        assertThat(seeds).containsExactly(3L, 4L, 5L);
        assertThat(summary).isNotNull();
        assertThat(summary.get("runs").asLong()).isEqualTo(3);
        assertThat(summary.get("failed").asLong()).isZero();
        Cli empty = Cli.run("stress", mockPlatform().toString(), "--seeds", "1..2", "--shard", "1/3");
        assertThat(empty.exit).isEqualTo(0);
        assertThat(empty.out).contains("has no seed");
    }

    @Test
    @DisplayName("--json of a caught plant: the run object is not clean and carries problems and the trace")
    void jsonFailure() throws IOException {
        Cli r = Cli.run("stress", mockPlatform().toString(), "--seed", "7", "--threads", "4", "--ops", "300",
                "--serial", "--plant", "rogue-pasid-free", "--json");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(1);
        JsonNode run = new ObjectMapper().readTree(r.out.lines().findFirst().orElseThrow());
        assertThat(run.get("clean").asBoolean()).isFalse();
        assertThat(run.get("seed").asLong()).isEqualTo(7);
        assertThat(run.get("plant").asText()).isEqualTo("rogue-pasid-free");
        assertThat(run.get("problems").toString()).contains("I-MM-PASID");
        assertThat(run.get("trace").size()).isPositive();
        // a problem of the PASID churn, whose calls are not logged: no file, and the reason
        assertThat(run.get("repro").isNull()).isTrue();
        assertThat(run.get("noRepro").asText()).contains("do not fail invariant I-MM-PASID");
        assertThat(r.out).doesNotContain("\r").doesNotContain("\u001b");
    }
    @Test
    @DisplayName("--kind runs only the kinds named (an unknown one exits 2); --check-every sets the watch's whole-check"
            + " period (a negative one exits 2); a failed run's replay line names both")
    void kindAndCheckEvery() throws IOException {
        Cli r = Cli.run("stress", "--kind", "vtd,mock", "--seed", "3", "--threads", "2", "--ops", "40", "--serial",
                "--check-every", "0", "--json");
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        ObjectMapper m = new ObjectMapper();
        List<String> kinds = new ArrayList<>();
        for (String line : r.out.lines().toList()) {
            JsonNode n = m.readTree(line);
            if (!n.has("summary")) {
                kinds.add(n.get("kind").asText());
            }
        }
        assertThat(kinds).containsExactlyInAnyOrder("mock", "vtd");
        Cli unknown = Cli.run("stress", "--kind", "nosuch", "--ops", "5");
        assertThat(unknown.exit).isEqualTo(2);
        assertThat(unknown.err).contains("--kind nosuch: not a kind with a stress bed");
        Cli notInFile = Cli.run("stress", mockPlatform().toString(), "--kind", "vtd", "--ops", "5");
        assertThat(notInFile.exit).isEqualTo(2);
        assertThat(Cli.run("stress", "--check-every", "-1", "--ops", "5").exit).isEqualTo(2);
        Cli failed = Cli.run("stress", "--kind", "mock,vtd", "--seed", "7", "--threads", "4", "--ops", "300",
                "--serial", "--check-every", "7", "--plant", "rogue-pasid-free");
        assertThat(failed.exit).as(failed.out + failed.err).isEqualTo(1);
        assertThat(failed.out).contains("again: jiommu stress --kind mock --seed 7 --threads 4 --ops 300 --serial"
                + " --check-every 7 --plant rogue-pasid-free");
    }
}
