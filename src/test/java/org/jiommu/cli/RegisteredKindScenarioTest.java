package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.platform.DeviceRules;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuKinds;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.KindOption;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.UnitSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10's proof at the scenario floor: a kind registered from a test ("twin", VT-d's units
 * under another name, with an option table and device rules of its own) is a word scenario
 * files can use: the reader checks its entries against its table and its devices against its
 * rules, the run builds it, {@code hw_dump} and I7 ({@code check: invariants}) see it, and
 * {@code jiommu stress FILE} stresses it, with nothing in scenario, check or cli naming it.
 */
class RegisteredKindScenarioTest {
    /** VT-d units under another name; only two of VT-d's options, and messages in its own words. */
    static final class TwinKind implements IommuKind {
        private final IommuKind vtd = IommuKinds.require("vtd");

        @Override
        public String name() {
            return "twin";
        }

        @Override
        public Map<String, KindOption> options() {
            Map<String, KindOption> m = new LinkedHashMap<>();
            m.put("address-width", vtd.options().get("address-width"));
            m.put("pasid-bits", vtd.options().get("pasid-bits"));
            return m;
        }

        @Override
        public List<KindOption.Problem> optionProblems(Map<String, Object> options) {
            return Long.valueOf(57).equals(options.get("address-width"))
                    ? List.of(new KindOption.Problem("address-width", "a twin has no 5-level tables"))
                    : List.of();
        }

        @Override
        public DeviceRules deviceRules() {
            return DeviceRules.requesterIds("Twin").firmwareRegions("RMRRs", "direct");
        }

        @Override
        public IommuUnits create(Platform platform, List<UnitSpec> specs) {
            return vtd.create(platform, specs);
        }

        @Override
        public StressBed stressBed(StressBed.Shape shape) {
            return vtd.stressBed(shape);
        }
    }

    @TempDir
    static Path dir;

    @BeforeAll
    static void register() {
        IommuKinds.register(new TwinKind());
    }

    @AfterAll
    static void unregister() {
        IommuKinds.unregister("twin");
    }

    private static String file(String name, String... lines) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f.toString();
    }

    private static String platform(String iommu, String device) {
        return String.join("\n", "name: a platform of the test's kind", "platform:", "  memory: 256MiB",
                "  iommus:", "    - " + iommu, "  devices:", "    - " + device);
    }

    @Test
    @DisplayName("a scenario file on the registered kind runs: options from its table, DMA, hw_dump and I7")
    void runs() throws IOException {
        String f = file("twin.yaml", platform("{name: tw0, kind: twin, address-width: 48, pasid-bits: 8}",
                "{name: nic0, bus: pci, bdf: \"00:02.0\", iommu: tw0, driver: none}"),
                "steps:",
                "  - iommu_paging_domain_alloc: {dev: nic0}",
                "    as: guest",
                "  - iommu_map: {domain: guest, iova: 0x1000, paddr: 0x4000000, size: 4KiB, prot: [read, write]}",
                "  - iommu_group_claim_dma_owner: {group: nic0, owner: vfio}",
                "  - iommu_attach_group: {domain: guest, group: nic0}",
                "  - dma: {dev: nic0, iova: 0x1234, write: 4, data: \"0badcafe\"}",
                "    expect: {paddr: 0x4000234}",
                "  - hw_dump: {iommu: tw0}",
                "  - check: invariants",
                "    expect: {violations: 0}");
        Cli r = Cli.run("run", f);
        assertThat(r.exit).as(r.out + r.err).isZero();
        assertThat(r.out).contains("tw0: twin").contains("vtd tw0:").contains("00:02.0 nic0");
    }

    @Test
    @DisplayName("the reader takes the kind's options, cross-option rules and device rules from the kind")
    void readerRules() throws IOException {
        String f = file("bad.yaml", platform("{name: tw0, kind: twin, scalable: true, address-width: 57}",
                "{name: uart0, bus: platform, iommu: tw0}"),
                "    - {name: nic0, bus: pci, bdf: \"00:02.0\", iommu: tw0, reserved: [{kind: msi, base: 0xfee00000, size: 1MiB}]}",
                "steps: []");
        Cli r = Cli.run("run", f);
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err).contains(f + ":5:31: unknown option 'scalable' for a twin IOMMU (allowed: address-width, "
                        + "default-domain, iotlb-entries, pasid-bits, strict)")
                .contains(f + ":5:62: a twin has no 5-level tables")
                .contains(f + ":7:26: device 'uart0': Twin translates PCI requester IDs; a platform device cannot be behind tw0")
                .contains(f + ":8:69: device 'nic0': Twin firmware reports RMRRs, not msi");
    }

    @Test
    @DisplayName("an unknown kind is refused with the registered kinds, sorted; smmuv3 is unknown until registered")
    void unknownKind() throws IOException {
        String words = String.join(", ", new java.util.TreeSet<>(IommuKinds.names()));
        assertThat(words).contains("twin").contains("vtd");
        for (String k : List.of("amd-vi", "smmuv3")) {
            if (IommuKinds.get(k) != null) {
                continue;
            }
            String f = file(k + ".yaml", "name: x", "platform:", "  iommus:", "    - {name: i0, kind: " + k + "}",
                    "steps: []");
            Cli r = Cli.run("run", f);
            assertThat(r.exit).isEqualTo(2);
            assertThat(r.err).contains(f + ":4:24: unknown IOMMU kind '" + k + "' (one of: " + words + ")");
        }
    }

    @Test
    @DisplayName("jiommu stress FILE stresses the registered kind its platform names (I7 at quiescent points)")
    void stress() throws IOException {
        String f = file("stress.yaml", platform("{name: tw0, kind: twin}",
                "{name: nic0, bus: pci, bdf: \"00:02.0\", iommu: tw0}"), "steps: []");
        Cli r = Cli.run("stress", f, "--seed", "7", "--threads", "2", "--ops", "200", "--serial");
        assertThat(r.exit).as(r.out + r.err).isZero();
        assertThat(r.out).contains("seeds 7 x twin").contains("0 violations");
    }
}
