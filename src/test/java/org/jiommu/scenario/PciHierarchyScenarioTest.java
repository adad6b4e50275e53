package org.jiommu.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@code platform.pci}: ports and bridges declared in a scenario, the groups pci_device_group
 * gives their functions, the requester IDs pci_for_each_dma_alias gives, and the reader's
 * errors (line:column) for a hierarchy that cannot exist.
 */
class PciHierarchyScenarioTest {

    /** Device names grouped by the core's group id. */
    private static Set<Set<String>> groups(Machine m, List<String> names) {
        Map<Integer, Set<String>> byId = new LinkedHashMap<>();
        for (String n : names) {
            byId.computeIfAbsent(m.core.groupId(m.device(n)), k -> new TreeSet<>()).add(n);
        }
        return Set.copyOf(byId.values());
    }

    @Test
    @DisplayName("pci_device_group: examples/q35-topology.yaml groups as a q35 guest does")
    void q35Groups() throws Exception {
        Scenario s = ScenarioReader.read(Path.of("examples", "q35-topology.yaml"));
        Machine m = Machine.build(s.platform());
        List<String> names = new ArrayList<>();
        s.platform().devices().forEach(d -> names.add(d.name()));
        assertThat(groups(m, names)).containsExactlyInAnyOrder(
                Set.of("rp1"), Set.of("rp2"), Set.of("rp3"),
                Set.of("nic0", "nic1"),
                Set.of("p2p", "pci0", "pci1"),
                Set.of("lpc", "sata", "smbus"));
    }

    @Test
    @DisplayName("pci_for_each_dma_alias: functions behind a PCIe-to-PCI bridge send its secondary bus, devfn 00.0")
    void requesterIdsFollowTheAliasWalk() throws Exception {
        Scenario s = ScenarioReader.read(Path.of("examples", "q35-topology.yaml"));
        Machine m = Machine.build(s.platform());
        PciTopology t = m.platform.unitsNamed("dmar0").topology();
        assertThat(t.dmaRequesterId((PciDevice) m.device("pci0"))).isEqualTo(0x0300);
        assertThat(t.dmaRequesterId((PciDevice) m.device("pci1"))).isEqualTo(0x0300);
        assertThat(t.dmaRequesterId((PciDevice) m.device("nic1"))).as("root ports forward the ID").isEqualTo(0x0101);
        assertThat(((PciDevice) m.device("p2p")).isBridge()).isTrue();
        assertThat(((PciDevice) m.device("pci0")).kind()).isEqualTo(PciDevice.Kind.PCI_FUNCTION);
    }

    private static final String HEAD = "name: t\nplatform:\n  iommus:\n    - {name: m0, kind: mock}\n";

    @Test
    @DisplayName("a switch below a root port: downstream ports with ACS isolate, one without ACS joins its endpoint")
    void switchOnAMock() throws Exception {
        String yaml = HEAD + """
                  pci:
                    - root-port: rp
                      bdf: "00:1c.0"
                      secondary-bus: 1
                      iommu: m0
                      below:
                        - switch-upstream-port: usp
                          bdf: "01:00.0"
                          secondary-bus: 2
                          iommu: m0
                          below:
                            - switch-downstream-port: dsp1
                              bdf: "02:01.0"
                              secondary-bus: 3
                              iommu: m0
                              below:
                                - {name: a, bus: pci, bdf: "03:00.0", iommu: m0}
                            - switch-downstream-port: dsp2
                              bdf: "02:02.0"
                              secondary-bus: 4
                              acs: false
                              iommu: m0
                              below:
                                - {name: b, bus: pci, bdf: "04:00.0", iommu: m0}
                  devices:
                    - {name: c, bus: pci, bdf: "00:02.0", iommu: m0}
                steps: []
                """;
        Scenario s = ScenarioReader.read("t.yaml", yaml);
        Machine m = Machine.build(s.platform());
        assertThat(groups(m, List.of("rp", "usp", "dsp1", "dsp2", "a", "b", "c"))).containsExactlyInAnyOrder(
                Set.of("rp"), Set.of("usp"), Set.of("dsp1"), Set.of("a"), Set.of("dsp2", "b"), Set.of("c"));
    }

    @Test
    @DisplayName("the flat form is unchanged: a bdf on bus 01 with no bridge declared is a root bus of its own")
    void flatFormUnchanged() throws Exception {
        Scenario s = ScenarioReader.read("t.yaml", HEAD + """
                  devices:
                    - {name: a, bus: pci, bdf: "01:00.0", iommu: m0, acs: false}
                    - {name: b, bus: pci, bdf: "01:00.1", iommu: m0, acs: false}
                steps: []
                """);
        assertThat(s.platform().bridges()).isEmpty();
        Machine m = Machine.build(s.platform());
        assertThat(((PciDevice) m.device("a")).kind()).isEqualTo(PciDevice.Kind.RC_INTEGRATED_ENDPOINT);
        assertThat(groups(m, List.of("a", "b"))).containsExactly(Set.of("a", "b"));
    }

    private static String errorOf(String platformYaml) {
        try {
            ScenarioReader.read("t.yaml", HEAD + platformYaml + "steps: []\n");
        } catch (InvalidScenarioException e) {
            return e.getMessage();
        }
        throw new AssertionError("accepted: " + platformYaml);
    }

    @Test
    @DisplayName("errors in platform.pci are reported at their line:column")
    void errors() {
        // a downstream port straight on a root bus: the topology's own placement rule
        assertThat(errorOf("""
                  pci:
                    - switch-downstream-port: d
                      bdf: "00:1c.0"
                      secondary-bus: 1
                """)).startsWith("t.yaml:6:").contains("d");
        // an endpoint whose bdf is not on its parent's bus
        assertThat(errorOf("""
                  pci:
                    - root-port: rp
                      bdf: "00:1c.0"
                      secondary-bus: 1
                      below:
                        - {name: a, bus: pci, bdf: "02:00.0"}
                """)).startsWith("t.yaml:10:").contains("below 'rp'");
        // ACS on a PCIe-to-PCI bridge
        assertThat(errorOf("""
                  pci:
                    - root-port: rp
                      bdf: "00:1c.0"
                      secondary-bus: 1
                      below:
                        - pcie-to-pci-bridge: br
                          bdf: "01:00.0"
                          secondary-bus: 2
                          acs: true
                """)).startsWith("t.yaml:13:").contains("never isolates");
        // a flat device on a bus a declared port owns
        assertThat(errorOf("""
                  pci:
                    - root-port: rp
                      bdf: "00:1c.0"
                      secondary-bus: 1
                  devices:
                    - {name: a, bus: pci, bdf: "01:00.0"}
                """)).startsWith("t.yaml:10:").contains("declare it under rp");
        // secondary bus not above the primary bus
        assertThat(errorOf("""
                  pci:
                    - root-port: rp
                      bdf: "00:1c.0"
                      secondary-bus: 1
                      below:
                        - switch-upstream-port: u
                          bdf: "01:00.0"
                          secondary-bus: 1
                """)).startsWith("t.yaml:10:");
        // one tree, two IOMMUs
        assertThat(errorOf("""
                    - {name: m1, kind: mock}
                  pci:
                    - root-port: rp
                      bdf: "00:1c.0"
                      secondary-bus: 1
                      iommu: m0
                      below:
                        - {name: a, bus: pci, bdf: "01:00.0", iommu: m1}
                """)).contains("one PCI hierarchy is behind one IOMMU");
        // a port name clashes with a device name
        assertThat(errorOf("""
                  pci:
                    - root-port: a
                      bdf: "00:1c.0"
                      secondary-bus: 1
                  devices:
                    - {name: a, bus: pci, bdf: "00:02.0"}
                """)).contains("already");
    }

    @Test
    @DisplayName("jiommu run exits 2 for a bad hierarchy, like any invalid scenario")
    void exitTwo() throws Exception {
        Path f = Files.createTempFile("pci", ".yaml");
        Files.writeString(f, HEAD + "  pci:\n    - root-port: rp\n      bdf: \"00:1c.0\"\n" + "steps: []\n");
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        picocli.CommandLine cl = org.jiommu.cli.Main.commandLine();
        cl.setOut(new java.io.PrintWriter(out));
        cl.setErr(new java.io.PrintWriter(err));
        assertThat(cl.execute("run", f.toString())).isEqualTo(2);
        assertThat(out.toString() + err.toString()).contains(":6:").contains("secondary-bus");
        Files.delete(f);
    }
}
