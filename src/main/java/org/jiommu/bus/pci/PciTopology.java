package org.jiommu.bus.pci;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.pci.PciDevice.Kind;
import org.jiommu.bus.pci.PciDevice.Placement;

/**
 * The PCI hierarchy of a platform: segments, host bridges with their root buses, root ports,
 * switches, PCIe-to-PCI bridges with conventional PCI below them, each port with its ACS
 * capability, the functions below them, quirk DMA aliases and external-facing ports. Built with
 * {@link #rootBus} and {@link PciBus}'s fluent methods, or with {@link #add(PciDevice)} for a
 * function on a root bus.
 *
 * <p>It answers the two questions the IOMMU layer asks about PCI:
 * <ul>
 * <li>which requester IDs the IOMMU sees for a function ({@link #dmaAliases},
 *     {@code pci_for_each_dma_alias}), which a driver programs context / stream table entries
 *     for, and which one arrives on the wire ({@link #dmaRequesterId});</li>
 * <li>which functions must share an IOMMU group ({@code pci_device_group}): the kernel's
 *     inspection order ({@link #groupCandidates}), and the groups it ends with when every
 *     function is probed in the order it was added ({@link #mustShareWith}, {@link #groupAnchor},
 *     {@link #iommuGroups}).</li>
 * </ul>
 * See docs/bus-pci.md for the rules with their kernel sources.
 *
 * <p>Thread-safe: every method synchronizes on the topology (the model of {@code pci_bus_sem});
 * functions are never removed (a removed device stays on the wire, SCENARIOS.md {@code device_del}).
 */
public final class PciTopology {
    /** Every function, bridges included, in the order added (the kernel's device-list order). */
    private final List<PciDevice> functions = new ArrayList<>();
    private final Map<String, PciDevice> byName = new HashMap<>();
    /** segment << 16 | bus << 8 | devfn. */
    private final Map<Integer, PciDevice> byAddress = new HashMap<>();
    /** segment << 8 | bus number. */
    private final Map<Integer, PciBus> buses = new HashMap<>();
    private final Map<PciBus, List<PciDevice>> busDevices = new HashMap<>();
    private final List<PciBus> rootBuses = new ArrayList<>();
    /** Group index per entry of {@link #functions}, from {@link #simulateGroups}; null when stale. */
    private int[] groupOf;
    /** With {@link #groupOf}: each function's index in {@link #functions}, and each group's members in order. */
    private Map<PciDevice, Integer> functionIndex;
    private List<List<PciDevice>> groupMembers;

    // ---- building ----

    /**
     * The root bus {@code number} of segment {@code segment}, created with its host bridge if it
     * does not exist yet. A segment may have several host bridges (root buses).
     *
     * @throws IommuException EINVAL for an out-of-range segment or bus, EEXIST if the number is a
     *     bridge's secondary bus
     */
    public synchronized PciBus rootBus(int segment, int number) {
        if (segment < 0 || segment > 0xffff || number < 0 || number > 0xff) {
            throw new IommuException(Errno.EINVAL, String.format("bad root bus %x:%x", segment, number));
        }
        PciBus bus = buses.get(busKey(segment, number));
        if (bus != null) {
            if (!bus.isRoot()) {
                throw new IommuException(Errno.EEXIST, "bus " + bus + " is the secondary bus of " + bus.self());
            }
            return bus;
        }
        bus = new PciBus(this, segment, number, null, true);
        registerBus(bus);
        rootBuses.add(bus);
        return bus;
    }

    /**
     * Adds an endpoint on the bus its address names: that bus if the topology has it (root or
     * secondary), else a new root bus. No ACS capability.
     */
    public PciDevice add(PciDevice dev) {
        return add(dev, Acs.NONE);
    }

    /** {@link #add(PciDevice)} with the function's ACS capability (what matters for multifunction devices). */
    public synchronized PciDevice add(PciDevice dev, Acs acs) {
        PciBus bus = buses.get(busKey(dev.segment(), dev.bus()));
        if (bus == null) {
            checkNew(dev);
            bus = rootBus(dev.segment(), dev.bus());
        }
        return addEndpoint(bus, dev, acs);
    }

    synchronized PciDevice addEndpoint(PciBus bus, PciDevice dev, Acs acs) {
        if (dev.segment() != bus.segment() || dev.bus() != bus.number()) {
            throw new IommuException(Errno.EINVAL, dev.name() + " at " + dev.bdf() + " is not on bus " + bus);
        }
        checkNew(dev);
        Kind kind = bus.isRoot() ? Kind.RC_INTEGRATED_ENDPOINT : bus.isPcie() ? Kind.ENDPOINT : Kind.PCI_FUNCTION;
        dev.place(new Placement(bus, kind, acs == null ? Acs.NONE : acs, null));
        register(bus, dev);
        return dev;
    }

    synchronized PciBus addBridge(PciBus bus, String name, int slot, int function, int secondary, Kind kind,
                                  Acs acs) {
        if (secondary < 0 || secondary > 0xff) {
            throw new IommuException(Errno.EINVAL, "secondary bus " + secondary + " of " + name + " outside 0..255");
        }
        PciDevice bridge = new PciDevice(name, bus.segment(), bus.number(), devfnOf(name, slot, function),
                false, 0, false, false);
        checkPlacement(bus, bridge, kind);
        checkNew(bridge);
        if (secondary <= bus.number()) {
            // PCI-to-PCI bridge architecture: buses below a bridge are numbered above its primary bus.
            throw new IommuException(Errno.EINVAL, String.format("%s: secondary bus %02x must be above primary bus %s",
                    name, secondary, bus));
        }
        if (buses.containsKey(busKey(bus.segment(), secondary))) {
            throw new IommuException(Errno.EEXIST, String.format("%s: bus %04x:%02x already exists",
                    name, bus.segment(), secondary));
        }
        boolean pcieBelow = kind != Kind.PCIE_TO_PCI_BRIDGE && kind != Kind.PCI_BRIDGE;
        PciBus below = new PciBus(this, bus.segment(), secondary, bridge, pcieBelow);
        bridge.place(new Placement(bus, kind, acs == null ? Acs.NONE : acs, below));
        register(bus, bridge);
        registerBus(below);
        return below;
    }

    /** Which bridge kinds PCI allows on which bus (the PCI Express capability's Device/Port Types). */
    private static void checkPlacement(PciBus bus, PciDevice bridge, Kind kind) {
        PciDevice up = bus.self();
        Kind upKind = up == null ? null : up.kind();
        boolean ok;
        switch (kind) {
            case ROOT_PORT:
                ok = bus.isRoot();
                break;
            case SWITCH_UPSTREAM_PORT:
                ok = upKind == Kind.ROOT_PORT || upKind == Kind.SWITCH_DOWNSTREAM_PORT
                        || upKind == Kind.PCI_TO_PCIE_BRIDGE;
                break;
            case SWITCH_DOWNSTREAM_PORT:
                ok = upKind == Kind.SWITCH_UPSTREAM_PORT;
                break;
            case PCIE_TO_PCI_BRIDGE:
                ok = bus.isPcie() && upKind != Kind.SWITCH_UPSTREAM_PORT;
                break;
            case PCI_TO_PCIE_BRIDGE:
            case PCI_BRIDGE:
                ok = !bus.isPcie();
                break;
            default:
                ok = false;
        }
        if (!ok) {
            throw new IommuException(Errno.EINVAL, String.format("%s: a %s cannot sit on bus %s%s", bridge.name(),
                    kind, bus, up == null ? " (a root bus)" : " below " + up.name() + " (" + upKind + ")"));
        }
    }

    private void checkNew(PciDevice dev) {
        if (dev.placed()) {
            throw new IommuException(Errno.EEXIST, dev.name() + " is already in a topology");
        }
        if (byName.containsKey(dev.name())) {
            throw new IommuException(Errno.EEXIST, "a PCI function named " + dev.name() + " exists");
        }
        PciDevice at = byAddress.get(addressKey(dev.segment(), dev.bus(), dev.devfn()));
        if (at != null) {
            throw new IommuException(Errno.EEXIST, dev.name() + ": " + dev.bdf() + " is taken by " + at.name());
        }
    }

    private void register(PciBus bus, PciDevice dev) {
        functions.add(dev);
        byName.put(dev.name(), dev);
        byAddress.put(addressKey(dev.segment(), dev.bus(), dev.devfn()), dev);
        busDevices.get(bus).add(dev);
        invalidateGroups();
    }

    private void registerBus(PciBus bus) {
        buses.put(busKey(bus.segment(), bus.number()), bus);
        busDevices.put(bus, new ArrayList<>());
    }

    /**
     * Marks a root port or switch downstream port external-facing: functions below it become
     * untrusted ({@code set_pcie_untrusted}). Set it before the IOMMU core probes them.
     *
     * @throws IommuException EINVAL for any other kind of function
     */
    public synchronized void markExternalFacing(PciDevice port) {
        checkMember(port);
        if (port.kind() != Kind.ROOT_PORT && port.kind() != Kind.SWITCH_DOWNSTREAM_PORT) {
            throw new IommuException(Errno.EINVAL, port.name() + " is a " + port.kind()
                    + "; only root and downstream ports face external slots");
        }
        port.setExternalFacing();
    }

    /**
     * {@code pci_add_dma_alias(dev, devfn, 1)}: a quirk saying the function also issues DMA with
     * requester ID (its bus, {@code devfn}) (phantom functions, e.g. some Marvell and Ricoh parts).
     */
    public void addDmaAlias(PciDevice dev, int devfn) {
        addDmaAlias(dev, devfn, 1);
    }

    /**
     * {@code pci_add_dma_alias(dev, devfnFrom, count)}: aliases {@code devfnFrom ..
     * devfnFrom + count - 1} on the function's own bus (the kernel supports aliases only on the
     * same bus). Declare quirks before the IOMMU core probes the function, as header fixups run
     * at enumeration.
     *
     * @throws IommuException EINVAL for a range outside 0..255 or an empty one
     */
    public synchronized void addDmaAlias(PciDevice dev, int devfnFrom, int count) {
        checkMember(dev);
        if (count < 1 || devfnFrom < 0 || devfnFrom + count > 256) {
            throw new IommuException(Errno.EINVAL, String.format("%s: DMA alias devfn %#x + %d outside 0..0xff",
                    dev.name(), devfnFrom, count));
        }
        for (int d = devfnFrom; d < devfnFrom + count; d++) {
            dev.dmaAliasMask[d >> 6] |= 1L << (d & 63);
        }
        invalidateGroups();
    }

    /**
     * The scenario file's {@code alias-of: "bb:dd.f"}: the function's DMA also appears with that
     * address, which must be on the function's own bus and segment.
     *
     * @throws IommuException EINVAL for an address on another bus or segment
     */
    public synchronized void addDmaAlias(PciDevice dev, Bdf aliasOf) {
        checkMember(dev);
        if (aliasOf.segment() != dev.segment() || aliasOf.bus() != dev.bus()) {
            throw new IommuException(Errno.EINVAL, dev.name() + " at " + dev.bdf() + ": DMA alias " + aliasOf
                    + " is not on the same bus (the kernel supports same-bus aliases only)");
        }
        addDmaAlias(dev, aliasOf.devfn(), 1);
    }

    /** The function at {@code bdf}, or null. */
    public PciDevice find(Bdf bdf) {
        return find(bdf.segment(), bdf.bus(), bdf.devfn());
    }

    /** The function's quirk alias devfns, ascending (empty without quirks). */
    public synchronized List<Integer> dmaAliasDevfns(PciDevice dev) {
        checkMember(dev);
        List<Integer> out = new ArrayList<>();
        for (int d = 0; d < 256; d++) {
            if (aliasBit(dev, d)) {
                out.add(d);
            }
        }
        return out;
    }

    // ---- lookup ----

    /** The endpoints (functions that are not bridges or ports), in the order added. */
    public synchronized List<PciDevice> devices() {
        List<PciDevice> out = new ArrayList<>();
        for (PciDevice f : functions) {
            if (!f.isBridge()) {
                out.add(f);
            }
        }
        return out;
    }

    /** Every function, bridges and ports included, in the order added (parents before children). */
    public synchronized List<PciDevice> functions() {
        return List.copyOf(functions);
    }

    public synchronized List<PciBus> rootBuses() {
        return List.copyOf(rootBuses);
    }

    /** The bus {@code number} of {@code segment}, or null. */
    public synchronized PciBus bus(int segment, int number) {
        return buses.get(busKey(segment, number));
    }

    /** {@code pci_get_domain_bus_and_slot}: the function at segment:bus:devfn, or null. */
    public synchronized PciDevice find(int segment, int bus, int devfn) {
        return byAddress.get(addressKey(segment, bus, devfn));
    }

    /** The function named {@code name}, or null. */
    public synchronized PciDevice byName(String name) {
        return byName.get(name);
    }

    synchronized List<PciDevice> devicesOn(PciBus bus) {
        return List.copyOf(busDevices.get(bus));
    }

    /** The bridges above the function, nearest first, ending with the one on a root bus (the root port). */
    public synchronized List<PciDevice> upstreamBridges(PciDevice dev) {
        checkMember(dev);
        List<PciDevice> out = new ArrayList<>();
        for (PciDevice up = dev.upstreamBridge(); up != null; up = up.upstreamBridge()) {
            out.add(up);
        }
        return out;
    }

    /** {@code pcie_find_root_port}: the root port above the function (or the function itself), or null. */
    public synchronized PciDevice rootPort(PciDevice dev) {
        checkMember(dev);
        for (PciDevice d = dev; d != null; d = d.upstreamBridge()) {
            if (d.kind() == Kind.ROOT_PORT) {
                return d;
            }
        }
        return null;
    }

    synchronized boolean hasSlotSibling(PciDevice dev) {
        for (PciDevice f : busDevices.get(dev.parentBus())) {
            if (f != dev && f.slot() == dev.slot()) {
                return true;
            }
        }
        return false;
    }

    // ---- ACS ----

    /**
     * {@code pci_acs_enabled(pdev, flags)}: whether the function effectively provides the ACS
     * controls. Conventional PCI and both kinds of PCI/PCIe bridge never do; root and downstream
     * ports need the capability; endpoints and upstream ports need it only when multifunction,
     * since a single function has no peer to reach inside the device (PCIe r3.0 6.12.1.2-3).
     * No device-specific ACS quirks are modelled.
     */
    public synchronized boolean acsEnabled(PciDevice dev, int flags) {
        checkMember(dev);
        switch (dev.kind()) {
            case PCI_FUNCTION:
            case PCI_BRIDGE:
            case PCIE_TO_PCI_BRIDGE:
            case PCI_TO_PCIE_BRIDGE:
                return false;
            case ROOT_PORT:
            case SWITCH_DOWNSTREAM_PORT:
                return dev.acs().flagsEnabled(flags);
            default:
                return !dev.multifunction() || dev.acs().flagsEnabled(flags);
        }
    }

    /**
     * {@code pci_acs_path_enabled(start, end, flags)}: ACS holds at {@code start} and at every
     * bridge above it up to {@code end}, or up to the root bus when {@code end} is null (then
     * reaching the root bus before {@code end} is a failure).
     */
    public synchronized boolean acsPathEnabled(PciDevice start, PciDevice end, int flags) {
        checkMember(start);
        PciDevice pdev = start;
        while (true) {
            if (!acsEnabled(pdev, flags)) {
                return false;
            }
            if (pdev.parentBus().isRoot()) {
                return end == null;
            }
            if (pdev == end) {
                return true;
            }
            pdev = pdev.upstreamBridge();
        }
    }

    // ---- DMA aliases ----

    /**
     * {@code pci_devs_are_dma_aliases}: one of the two has a quirk alias naming the other's devfn.
     * (Only meaningful for functions on the same bus, which is how the kernel uses it.)
     */
    public synchronized boolean devsAreDmaAliases(PciDevice a, PciDevice b) {
        checkMember(a);
        checkMember(b);
        return aliasBit(a, b.devfn()) || aliasBit(b, a.devfn());
    }

    /**
     * {@code pci_for_each_dma_alias}: every requester ID the IOMMU may see for the function's
     * DMA, in the kernel's order: its own ID; its quirk aliases on its bus; then, walking up to
     * the root bus, one entry per bridge that takes ownership of requests from below. Root
     * ports and switch ports pass requests through unchanged. A PCIe-to-PCI/PCI-X bridge
     * forwards them as (its secondary bus, devfn 0) (PCIe-to-PCI/PCI-X Bridge spec r1.0 2.3);
     * a conventional PCI bridge or a PCI-to-PCIe bridge issues them with its own ID.
     * A VT-d driver programs a context entry for each; an SMMU driver a stream ID for each.
     */
    public synchronized List<DmaAlias> dmaAliases(PciDevice dev) {
        checkMember(dev);
        List<DmaAlias> out = new ArrayList<>();
        out.add(new DmaAlias(dev, dev.requesterId()));
        for (int d = 0; d < 256; d++) {
            if (aliasBit(dev, d)) {
                out.add(new DmaAlias(dev, dev.bus() << 8 | d));
            }
        }
        for (PciDevice up = dev.upstreamBridge(); up != null; up = up.upstreamBridge()) {
            switch (up.kind()) {
                case ROOT_PORT:
                case SWITCH_UPSTREAM_PORT:
                case SWITCH_DOWNSTREAM_PORT:
                    break;
                case PCIE_TO_PCI_BRIDGE:
                    out.add(new DmaAlias(up, up.secondaryBus().number() << 8));
                    break;
                default: // PCI_TO_PCIE_BRIDGE and conventional PCI_BRIDGE
                    out.add(new DmaAlias(up, up.requesterId()));
                    break;
            }
        }
        return out;
    }

    /**
     * The requester ID the root complex receives for the function's own DMA: that of the
     * topmost bridge that takes ownership of its requests, else the function's own. (A
     * function with quirk aliases may use those too; a DMA engine may pick one explicitly.)
     */
    public synchronized int dmaRequesterId(PciDevice dev) {
        int rid = dev.requesterId();
        for (DmaAlias a : dmaAliases(dev)) {
            if (a.device() != dev) {
                rid = a.requesterId();
            }
        }
        return rid;
    }

    // ---- IOMMU groups ----

    /**
     * The functions whose IOMMU group {@code pci_device_group(dev)} would reuse, in the order it
     * inspects them (the first that has a group wins; with none, a new group). {@code dev}
     * itself is left out (it has no group when its group is being chosen); each function is
     * listed once. The steps, as in drivers/iommu/iommu.c:
     * <ol>
     * <li>{@code pci_for_each_dma_alias(dev, get_pci_alias_or_group)}: the bridges that alias
     *     the function's requests ({@link #dmaAliases}); the last one reached becomes {@code p}
     *     (else {@code p = dev}). Quirk aliases name {@code dev} itself here.</li>
     * <li>Walk up from {@code p}'s bus to the root bus: stop at the first bridge with
     *     {@code pci_acs_path_enabled(bridge, NULL, REQ_ACS_FLAGS)}; every bridge passed
     *     becomes {@code p} and a candidate.</li>
     * <li>{@code get_pci_alias_group(p)}: {@code p}, then (recursively, each devfn once) every
     *     function on {@code p}'s bus that {@code p} aliases or that aliases {@code p}, each
     *     followed by its {@code get_pci_function_alias_group}.</li>
     * <li>{@code get_pci_function_alias_group(p)}: if {@code p} is multifunction without ACS
     *     isolation, the other functions of its slot without ACS isolation, each through
     *     {@code get_pci_alias_group}.</li>
     * </ol>
     * The kernel finds a group only on a function already probed: bridges must be probed before
     * the functions below them for this list alone to give the kernel's groups. {@link
     * #mustShareWith} has no such condition.
     */
    public synchronized List<PciDevice> groupCandidates(PciDevice dev) {
        checkMember(dev);
        Set<PciDevice> out = new LinkedHashSet<>();
        PciDevice p = dev;
        for (DmaAlias a : dmaAliases(dev)) {
            out.add(a.device());
            p = a.device();
        }
        for (PciBus bus = p.parentBus(); !bus.isRoot(); bus = bus.parent()) {
            PciDevice bridge = bus.self();
            if (acsPathEnabled(bridge, null, Acs.REQ_ACS_FLAGS)) {
                break;
            }
            p = bridge;
            out.add(p);
        }
        boolean[] visitedDevfns = new boolean[256];
        aliasGroup(p, visitedDevfns, out);
        functionAliasGroup(p, visitedDevfns, out);
        out.remove(dev);
        return new ArrayList<>(out);
    }

    /** {@code get_pci_alias_group}: the bitmap of visited devfns breaks alias loops. */
    private void aliasGroup(PciDevice p, boolean[] visitedDevfns, Set<PciDevice> out) {
        if (visitedDevfns[p.devfn()]) {
            return;
        }
        visitedDevfns[p.devfn()] = true;
        out.add(p);
        for (PciDevice tmp : busDevices.get(p.parentBus())) {
            if (tmp != p && devsAreDmaAliases(p, tmp)) {
                aliasGroup(tmp, visitedDevfns, out);
                functionAliasGroup(tmp, visitedDevfns, out);
            }
        }
    }

    /** {@code get_pci_function_alias_group}: non-isolated functions of a multifunction slot. */
    private void functionAliasGroup(PciDevice p, boolean[] visitedDevfns, Set<PciDevice> out) {
        if (!p.multifunction() || acsEnabled(p, Acs.REQ_ACS_FLAGS)) {
            return;
        }
        for (PciDevice tmp : busDevices.get(p.parentBus())) {
            if (tmp != p && tmp.slot() == p.slot() && !acsEnabled(tmp, Acs.REQ_ACS_FLAGS)) {
                aliasGroup(tmp, visitedDevfns, out);
            }
        }
    }

    /**
     * The other functions (bridges included) in {@code dev}'s IOMMU group when every function
     * of the topology is probed with {@code pci_device_group} in the order it was added, as
     * the kernel's bus scan does; in that order. The core's {@code pci_device_group(dev)} can
     * return the group of the first of them that has one, else allocate a new group: that
     * gives the kernel's groups whatever order the core probes in, and whether or not it
     * probes bridges.
     */
    public synchronized List<PciDevice> mustShareWith(PciDevice dev) {
        checkMember(dev);
        List<PciDevice> out = new ArrayList<>(membersOf(dev));
        out.remove(dev);
        return out;
    }

    /** The first function (in the order added) of {@code dev}'s group; {@code dev} itself if it heads one. */
    public synchronized PciDevice groupAnchor(PciDevice dev) {
        checkMember(dev);
        return membersOf(dev).get(0);
    }

    /** All IOMMU groups of the topology (bridges included), ordered by their first function. */
    public synchronized List<List<PciDevice>> iommuGroups() {
        groups();
        List<List<PciDevice>> out = new ArrayList<>();
        for (List<PciDevice> m : groupMembers) {
            out.add(new ArrayList<>(m));
        }
        return out;
    }

    /**
     * The functions of {@code dev}'s group in the order added, from the cache: a lookup, not a
     * scan of every function (the core asks once per probed device; at 64 K functions a scan
     * made probing quadratic, docs/PERFORMANCE.md, scale).
     */
    private List<PciDevice> membersOf(PciDevice dev) {
        int[] g = groups();
        return groupMembers.get(g[functionIndex.get(dev)]);
    }

    private void invalidateGroups() {
        groupOf = null;
        functionIndex = null;
        groupMembers = null;
    }

    /** Runs {@code pci_device_group} over every function in the order added; cached until a change. */
    private int[] groups() {
        if (groupOf == null) {
            int[] g = simulateGroups();
            Map<PciDevice, Integer> index = new HashMap<>();
            List<List<PciDevice>> members = new ArrayList<>();
            for (int i = 0; i < functions.size(); i++) {
                index.put(functions.get(i), i);
                if (g[i] == members.size()) { // group ids are given out in order of first function
                    members.add(new ArrayList<>());
                }
                members.get(g[i]).add(functions.get(i));
            }
            functionIndex = index;
            groupMembers = members;
            groupOf = g;
        }
        return groupOf;
    }

    private int[] simulateGroups() {
        int[] g = new int[functions.size()];
        Arrays.fill(g, -1);
        Map<PciDevice, Integer> index = new HashMap<>();
        for (int i = 0; i < functions.size(); i++) {
            index.put(functions.get(i), i);
        }
        int next = 0;
        for (int i = 0; i < functions.size(); i++) {
            int found = -1;
            for (PciDevice c : groupCandidates(functions.get(i))) {
                int cg = g[index.get(c)];
                if (cg >= 0) {
                    found = cg;
                    break;
                }
            }
            g[i] = found >= 0 ? found : next++;
        }
        return g;
    }

    // ---- helpers ----

    /** {@link PciDevice#devfn} failing with EINVAL naming the function. */
    static int devfnOf(String name, int slot, int function) {
        if (slot < 0 || slot > 31 || function < 0 || function > 7) {
            throw new IommuException(Errno.EINVAL, String.format("%s: slot %d function %d outside 0..31 / 0..7",
                    name, slot, function));
        }
        return PciDevice.devfn(slot, function);
    }

    private void checkMember(PciDevice dev) {
        if (dev == null || dev.topology() != this) {
            throw new IommuException(Errno.EINVAL, (dev == null ? "null" : dev.name()) + " is not in this PCI topology");
        }
    }

    private static boolean aliasBit(PciDevice dev, int devfn) {
        return (dev.dmaAliasMask[devfn >> 6] & 1L << (devfn & 63)) != 0;
    }

    private static int busKey(int segment, int bus) {
        return segment << 8 | bus;
    }

    private static int addressKey(int segment, int bus, int devfn) {
        return segment << 16 | bus << 8 | devfn;
    }
}
