package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.base.IommuException;
import org.jiommu.bus.pci.Bdf;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.scenario.YNode.Entry;
import org.jiommu.scenario.YNode.YList;
import org.jiommu.scenario.YNode.YMap;

/**
 * Reads {@code platform.pci}: a tree of root ports, switch ports and bridges, each with the
 * functions below it (docs/scenarios.md, "The PCI hierarchy"). Entries are checked by building
 * the same hierarchy in a scratch {@link PciTopology}, so the placement rules (a root port on a
 * root bus, a downstream port on a switch's internal bus, secondary bus numbers above the
 * primary and unique, ...) are the model's own and every refusal is reported at the entry's
 * line:column. Endpoints are the ordinary device entries of {@code platform.devices}.
 */
final class PciTreeReader {
    static final List<String> KINDS = List.of(PciBridgeSpec.ROOT_PORT, PciBridgeSpec.SWITCH_UPSTREAM_PORT,
            PciBridgeSpec.SWITCH_DOWNSTREAM_PORT, PciBridgeSpec.PCIE_TO_PCI_BRIDGE, PciBridgeSpec.PCI_TO_PCIE_BRIDGE,
            PciBridgeSpec.PCI_BRIDGE);
    private static final Set<String> NODE_KEYS = Set.of("bdf", "secondary-bus", "acs", "iommu", "below");

    private final ScenarioReader r;
    private final PciTopology shape = new PciTopology();
    /** Bridges and endpoints in tree order (a bridge before what is below it). */
    final List<DeviceSpec> devices = new ArrayList<>();
    final Map<String, PciBridgeSpec> bridges = new LinkedHashMap<>();

    PciTreeReader(ScenarioReader r) {
        this.r = r;
    }

    /** The IOMMU every entry of one tree names (the first entry's; "" for none). */
    private static final class Tree {
        String iommu;
        Loc first;
    }

    void read(YNode node) {
        YList l = r.listOf(node, "pci");
        if (l == null) {
            return;
        }
        for (YNode item : l.items()) {
            readItem(item, null, new Tree());
        }
    }

    /**
     * A flat {@code platform.devices} PCI entry must not sit on a bus a declared bridge owns: it
     * belongs under that bridge in the tree.
     */
    void checkFlat(DeviceSpec d) {
        if (d.bus() != DeviceSpec.Bus.PCI || d.bdf() == null) {
            return;
        }
        PciBus bus = shape.bus(d.bdf().segment(), d.bdf().bus());
        if (bus != null && !bus.isRoot()) {
            r.problem(d.loc(), "device '" + d.name() + "' at " + d.bdf() + " is on the bus below '" + bus.self().name()
                    + "': declare it under " + bus.self().name() + " in platform.pci");
        }
    }

    private void readItem(YNode item, PciBus parent, Tree tree) {
        if (!(item instanceof YMap m)) {
            r.problem(item.loc(), "a platform.pci entry is a port or bridge (root-port: NAME, bdf, secondary-bus, "
                    + "acs, iommu, below) or a device entry; found " + item.kindName());
            return;
        }
        Entry kind = null;
        for (String k : KINDS) {
            Entry e = m.entry(k);
            if (e != null) {
                if (kind != null) {
                    r.problem(e.keyLoc(), "one entry is one port or bridge: '" + kind.key() + "' and '" + k + "'");
                    return;
                }
                kind = e;
            }
        }
        if (kind == null) {
            endpoint(m, parent, tree);
        } else {
            bridge(m, kind, parent, tree);
        }
    }

    private void endpoint(YMap m, PciBus parent, Tree tree) {
        DeviceSpec d = r.readDevice(m, "device entry of platform.pci");
        if (d == null) {
            return;
        }
        if (d.bus() != DeviceSpec.Bus.PCI) {
            r.problem(m.loc(), "device '" + d.name() + "': platform.pci holds PCI functions only; put platform "
                    + "devices in platform.devices");
            return;
        }
        if (!onBus(d.bdf(), parent, m.get("bdf").loc(), "device '" + d.name() + "'") || !sameIommu(tree, d.iommu(),
                m.loc(), d.name())) {
            return;
        }
        devices.add(d);
    }

    private void bridge(YMap m, Entry kindEntry, PciBus parent, Tree tree) {
        String kind = kindEntry.key();
        for (Entry e : m.entries().values()) {
            if (!NODE_KEYS.contains(e.key()) && !KINDS.contains(e.key())) {
                r.problem(e.keyLoc(), "unknown key '" + e.key() + "' in a " + kind + Names.hint(e.key(), NODE_KEYS)
                        + " (allowed: " + String.join(", ", new java.util.TreeSet<>(NODE_KEYS)) + ")");
            }
        }
        int before = r.problemCount();
        String name = r.string(kindEntry.value(), kind + " name");
        String label = kind + " '" + (name == null ? "?" : name) + "'";
        Bdf bdf = null;
        if (m.get("bdf") == null) {
            r.problem(m.loc(), label + ": missing key 'bdf' (e.g. \"00:1c.0\")");
        } else {
            bdf = r.bdf(m.get("bdf"), "bdf");
            if (bdf != null && !r.claimBdf(bdf, name, m.get("bdf").loc())) {
                bdf = null;
            }
        }
        Integer secondary = null;
        if (m.get("secondary-bus") == null) {
            r.problem(m.loc(), label + ": missing key 'secondary-bus' (the bus number below it)");
        } else {
            Long v = r.number(m.get("secondary-bus"), "secondary-bus");
            if (v != null && (v < 1 || v > 0xff)) {
                r.problem(m.get("secondary-bus").loc(), "secondary-bus must be in 1..0xff; got " + v);
            } else if (v != null) {
                secondary = v.intValue();
            }
        }
        boolean port = KINDS.indexOf(kind) < 3;
        boolean acs = port;
        if (m.get("acs") != null) {
            Boolean b = r.bool(m.get("acs"), "acs");
            if (b != null && b && !port) {
                // pci_acs_enabled: the kernel never takes ACS from a PCI/PCIe bridge of these kinds
                r.problem(m.get("acs").loc(), label + ": only root ports and switch ports have ACS; a " + kind
                        + " never isolates (pci_acs_enabled)");
            } else if (b != null) {
                acs = b;
            }
        }
        String iommu = null;
        if (m.get("iommu") != null) {
            iommu = r.string(m.get("iommu"), "iommu");
            if (iommu != null && r.iommu(iommu) == null) {
                r.problem(m.get("iommu").loc(), label + " is on an unknown IOMMU '" + iommu + "'");
            }
        }
        if (bdf != null && !onBus(bdf, parent, m.get("bdf").loc(), label)) {
            bdf = null;
        }
        if (name != null) {
            r.declare(kindEntry.value(), ScenarioReader.deviceKind());
        }
        if (r.problemCount() > before || name == null || bdf == null || secondary == null
                || !sameIommu(tree, iommu, m.loc(), name)) {
            return;
        }
        PciBridgeSpec spec = new PciBridgeSpec(name, m.loc(), kind, bdf, secondary, acs);
        PciBus below;
        try {
            below = spec.place(parent != null ? parent : shape.rootBus(bdf.segment(), bdf.bus()));
        } catch (IommuException e) {
            r.problem(kindEntry.keyLoc(), label + ": " + e.getMessage());
            return;
        }
        bridges.put(name, spec);
        devices.add(new DeviceSpec(name, m.loc(), DeviceSpec.Bus.PCI, bdf, iommu, Set.of(), 0, acs, null, List.of(),
                false, false, List.of(), "none"));
        YList l = r.listOf(m.get("below"), "below");
        if (l != null) {
            for (YNode item : l.items()) {
                readItem(item, below, tree);
            }
        }
    }

    /** The entry's address must be on its parent's secondary bus, or on a root bus at the top. */
    private boolean onBus(Bdf bdf, PciBus parent, Loc loc, String label) {
        if (bdf == null) {
            return false;
        }
        if (parent != null && (bdf.segment() != parent.segment() || bdf.bus() != parent.number())) {
            r.problem(loc, String.format("%s at %s is below '%s', whose bus is %04x:%02x: its bdf must be on that bus",
                    label, bdf, parent.self().name(), parent.segment(), parent.number()));
            return false;
        }
        if (parent == null) {
            PciBus bus = shape.bus(bdf.segment(), bdf.bus());
            if (bus != null && !bus.isRoot()) {
                r.problem(loc, String.format("%s at %s is on the bus below '%s': declare it under %s", label, bdf,
                        bus.self().name(), bus.self().name()));
                return false;
            }
        }
        return true;
    }

    /**
     * Every function of one tree is behind one IOMMU (or none): the hierarchy lives in that
     * IOMMU's platform (a VT-d unit's DRHD scope, a mock's bus).
     */
    private boolean sameIommu(Tree tree, String iommu, Loc loc, String name) {
        String want = iommu == null ? "" : iommu;
        if (tree.iommu == null) {
            tree.iommu = want;
            tree.first = loc;
            return true;
        }
        if (!tree.iommu.equals(want)) {
            r.problem(loc, "'" + name + "' is behind " + (want.isEmpty() ? "no IOMMU" : want) + " but its tree (line "
                    + tree.first.line() + ") is behind " + (tree.iommu.isEmpty() ? "no IOMMU" : tree.iommu)
                    + ": one PCI hierarchy is behind one IOMMU");
            return false;
        }
        return true;
    }
}
