package org.jiommu.bus.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;

import org.jiommu.bus.pci.PciDevice.Kind;

/**
 * pci_device_group over random trees of root ports, switches and legacy bridges (single-function
 * devices, no quirks), against a reference written from the rule's statement: a function's
 * group is fixed by the topmost bridge that takes over its requester ID, then by climbing while
 * the bridge above is not isolated all the way to the root.
 */
class PciGroupingPropertyTest {
    private static final Acs[] ACS_CHOICES = {
        Acs.NONE, Acs.ISOLATED,
        Acs.of(Acs.REQ_ACS_FLAGS, Acs.REQ_ACS_FLAGS & ~Acs.UF), // UF implemented but off: not isolated
        Acs.of(Acs.REQ_ACS_FLAGS & ~Acs.UF, Acs.REQ_ACS_FLAGS & ~Acs.UF), // UF not implemented: counts as on
    };

    /** Builds a random topology; every function sits alone in its slot. */
    static final class RandomTopology {
        final PciTopology t = new PciTopology();
        final Random r;
        int names;
        final Map<Integer, Integer> nextBus = new HashMap<>();

        RandomTopology(long seed) {
            r = new Random(seed);
            for (int seg = 0; seg < 1 + r.nextInt(2); seg++) {
                for (int rootNo : r.nextBoolean() ? new int[] {0} : new int[] {0, 0x80}) {
                    nextBus.put(seg << 8 | rootNo, rootNo + 1);
                    populateRoot(t.rootBus(seg, rootNo), seg << 8 | rootNo);
                }
            }
        }

        String name(String kind) {
            return kind + (names++);
        }

        int bus(int key) {
            int b = nextBus.get(key);
            nextBus.put(key, b + 1);
            return b;
        }

        Acs acs() {
            return ACS_CHOICES[r.nextInt(ACS_CHOICES.length)];
        }

        void populateRoot(PciBus root, int key) {
            int n = 1 + r.nextInt(4);
            for (int slot = 0; slot < n; slot++) {
                switch (r.nextInt(3)) {
                    case 0 -> root.endpoint(name("rciep"), slot, 0);
                    case 1 -> pcie(root.rootPort(name("rp"), slot, 0, bus(key), acs()), key, 3);
                    default -> legacy(root.pcieToPciBridge(name("p2p"), slot, 0, bus(key)), key, 2);
                }
            }
        }

        /** Below a root port, downstream port or reverse bridge. */
        void pcie(PciBus bus, int key, int depth) {
            int pick = depth == 0 ? 0 : r.nextInt(4);
            switch (pick) {
                case 0 -> bus.endpoint(name("ep"), 0, 0);
                case 1 -> {
                    PciBus internal = bus.switchUpstreamPort(name("usp"), 0, 0, bus(key), acs());
                    int ports = 1 + r.nextInt(3);
                    for (int i = 0; i < ports; i++) {
                        pcie(internal.switchDownstreamPort(name("dsp"), i, 0, bus(key), acs()), key, depth - 1);
                    }
                }
                case 2 -> legacy(bus.pcieToPciBridge(name("p2p"), 0, 0, bus(key)), key, depth - 1);
                default -> { } // empty slot
            }
        }

        /** A conventional PCI bus. */
        void legacy(PciBus bus, int key, int depth) {
            int n = 1 + r.nextInt(3);
            for (int slot = 0; slot < n; slot++) {
                int pick = depth <= 0 ? 0 : r.nextInt(3);
                switch (pick) {
                    case 0 -> bus.endpoint(name("pci"), slot, 0);
                    case 1 -> legacy(bus.pciBridge(name("pb"), slot, 0, bus(key)), key, depth - 1);
                    default -> pcie(bus.pciToPcieBridge(name("rev"), slot, 0, bus(key)), key, depth - 1);
                }
            }
        }
    }

    /** Whether a port keeps requests from below going only upstream, by its own controls. */
    private static boolean refPortIsolates(PciDevice port) {
        Kind k = port.kind();
        if (k == Kind.SWITCH_UPSTREAM_PORT) {
            return true; // a single-function upstream port has no peer to redirect to
        }
        if (k != Kind.ROOT_PORT && k != Kind.SWITCH_DOWNSTREAM_PORT) {
            return false; // bridges to or from conventional PCI give no isolation
        }
        Acs acs = port.acs();
        if (!acs.present()) {
            return false;
        }
        for (int bit : new int[] {Acs.SV, Acs.RR, Acs.CR, Acs.UF}) {
            if ((acs.capability() & bit) != 0 && (acs.control() & bit) == 0) {
                return false;
            }
        }
        return true;
    }

    /** The port and everything above it isolate. */
    private static boolean refPathIsolates(PciDevice port) {
        for (PciDevice p = port; p != null; p = p.upstreamBridge()) {
            if (!refPortIsolates(p)) {
                return false;
            }
        }
        return true;
    }

    private static PciDevice refAnchor(PciDevice dev) {
        PciDevice x = dev;
        for (PciDevice up = dev.upstreamBridge(); up != null; up = up.upstreamBridge()) {
            if (up.kind() == Kind.PCIE_TO_PCI_BRIDGE || up.kind() == Kind.PCI_BRIDGE
                    || up.kind() == Kind.PCI_TO_PCIE_BRIDGE) {
                x = up; // the bridge re-issues the requests: the IOMMU cannot tell what is below apart
            }
        }
        while (x.upstreamBridge() != null && !refPathIsolates(x.upstreamBridge())) {
            x = x.upstreamBridge();
        }
        return x;
    }

    @Property(tries = 200)
    @Label("two functions share an IOMMU group iff they have the same isolation anchor")
    void groupsMatchReference(@ForAll long seed) {
        PciTopology t = new RandomTopology(seed).t;
        List<PciDevice> all = t.functions();
        for (PciDevice a : all) {
            Set<PciDevice> mates = new HashSet<>(t.mustShareWith(a));
            for (PciDevice b : all) {
                if (a != b) {
                    assertThat(mates.contains(b)).as("%s and %s", a.name(), b.name())
                            .isEqualTo(refAnchor(a) == refAnchor(b));
                }
            }
            assertThat(t.groupAnchor(a)).isSameAs(refAnchor(a));
        }
    }

    @Property(tries = 100)
    @Label("probing in any parents-first order with groupCandidates gives the same groups")
    void probeOrderDoesNotMatter(@ForAll long seed) {
        PciTopology t = new RandomTopology(seed).t;
        Random r = new Random(seed ^ 0x5eed);
        // a random parents-first order: repeatedly pick any function whose upstream bridge is probed
        List<PciDevice> pending = new ArrayList<>(t.functions());
        Map<PciDevice, Integer> group = new HashMap<>();
        int next = 0;
        while (!pending.isEmpty()) {
            List<PciDevice> ready = new ArrayList<>();
            for (PciDevice d : pending) {
                if (d.upstreamBridge() == null || group.containsKey(d.upstreamBridge())) {
                    ready.add(d);
                }
            }
            Collections.shuffle(ready, r);
            PciDevice d = ready.get(0);
            pending.remove(d);
            Integer found = null;
            for (PciDevice c : t.groupCandidates(d)) {
                if (group.containsKey(c)) {
                    found = group.get(c);
                    break;
                }
            }
            group.put(d, found != null ? found : next++);
        }
        for (List<PciDevice> g : t.iommuGroups()) {
            assertThat(g.stream().map(group::get).distinct().count()).as("group %s", g).isEqualTo(1);
        }
        assertThat(new HashSet<>(group.values())).hasSize(t.iommuGroups().size());
    }
}
