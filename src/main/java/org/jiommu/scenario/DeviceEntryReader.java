package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.jiommu.bus.pci.Bdf;
import org.jiommu.platform.DeviceRules;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuKinds;
import org.jiommu.scenario.ScenarioNames.NameKind;
import org.jiommu.scenario.YNode.Entry;
import org.jiommu.scenario.YNode.YList;
import org.jiommu.scenario.YNode.YMap;

/**
 * Reads device entries ({@code platform.devices}, {@code platform.pci} endpoints and
 * {@code device_add} steps): bus, bdf, the IOMMU behind it, PCI capabilities, stream IDs,
 * reserved regions, and the rules its IOMMU's kind sets for a device behind it
 * ({@link DeviceRules}: requester IDs or stream IDs, the reserved regions firmware reports,
 * context-switching masters, stall-capable masters, one bus per unit). Owns the bdfs taken so far and the
 * context-switch masters {@code gpu_switch_ttbr0} may name.
 */
final class DeviceEntryReader {
    private static final List<String> DEVICE_KEYS = List.of("name", "bus", "bdf", "iommu", "caps", "pasid-bits",
            "acs", "alias-of", "stream-ids", "context-switch", "dma-can-stall", "reserved", "driver", "untrusted");
    private static final List<String> CAPS = List.of("ats", "pasid", "pri");

    private final ScenarioValues values;
    private final ScenarioNames names;
    /** The platform's IOMMUs by name, as the platform section declares them. */
    private final Map<String, IommuSpec> iommus;
    /** Devices declared with context-switch: true (the only ones gpu_switch_ttbr0 may name). */
    private final Set<String> contextSwitchMasters = new java.util.HashSet<>();
    /** The bus of the first device behind each IOMMU, and where it was declared. */
    private final Map<String, Map.Entry<DeviceSpec.Bus, Loc>> iommuBus = new LinkedHashMap<>();
    private final Map<Bdf, String> bdfs = new TreeMap<>((x, y) ->
            Long.compare(((long) x.segment() << 16) | x.bus() << 8 | x.devfn(),
                    ((long) y.segment() << 16) | y.bus() << 8 | y.devfn()));

    DeviceEntryReader(ScenarioValues values, ScenarioNames names, Map<String, IommuSpec> iommus) {
        this.values = values;
        this.names = names;
        this.iommus = iommus;
    }

    /** Takes {@code bdf} for {@code name}; false (and a problem at {@code loc}) if a device has it. */
    boolean claimBdf(Bdf bdf, String name, Loc loc) {
        if (bdfs.containsKey(bdf)) {
            values.problem(loc, "bdf " + bdf + " is already taken by device '" + bdfs.get(bdf) + "'");
            return false;
        }
        bdfs.put(bdf, name == null ? "?" : name);
        return true;
    }

    boolean isContextSwitchMaster(String name) {
        return contextSwitchMasters.contains(name);
    }

    /**
     * The units whose masters may switch their own context, as the registered kinds word them
     * (by kind name): "a mock with aux-model: context-switch, or an smmuv2".
     */
    static String contextSwitchUnits() {
        List<String> where = new ArrayList<>();
        for (String k : new java.util.TreeSet<>(IommuKinds.names())) {
            IommuKind kind = IommuKinds.get(k);
            String w = kind == null ? null : kind.deviceRules().contextSwitchWhere();
            if (w != null) {
                where.add(w);
            }
        }
        return where.isEmpty() ? "a kind that has them (none is registered)" : String.join(", or ", where);
    }

    /** The units that take dma-can-stall masters, as the registered kinds word them. */
    static String stallUnits() {
        List<String> where = new ArrayList<>();
        for (String k : new java.util.TreeSet<>(IommuKinds.names())) {
            IommuKind kind = IommuKinds.get(k);
            String w = kind == null ? null : kind.deviceRules().dmaCanStallWhere();
            if (w != null) {
                where.add(w);
            }
        }
        return where.isEmpty() ? "a kind with a stall model (none is registered)" : String.join(", or ", where);
    }

    DeviceSpec readDevice(YNode node, String what) {
        if (!(node instanceof YMap m)) {
            values.problem(node.loc(), "a " + what + " is a mapping (name, bus, bdf, iommu, ...); found " + node.kindName());
            return null;
        }
        for (Entry e : m.entries().values()) {
            if (!DEVICE_KEYS.contains(e.key())) {
                values.problem(e.keyLoc(), "unknown key '" + e.key() + "' in " + what + Names.hint(e.key(), DEVICE_KEYS)
                        + " (allowed: " + String.join(", ", DEVICE_KEYS) + ")");
            }
        }
        int before = values.problemCount();
        String name = null;
        if (m.get("name") == null) {
            values.problem(m.loc(), what + " without 'name'");
        } else {
            name = values.string(m.get("name"), "device name");
        }
        String label = "device '" + (name == null ? "?" : name) + "'";
        DeviceSpec.Bus bus = null;
        if (m.get("bus") == null) {
            values.problem(m.loc(), label + ": missing key 'bus' (pci | platform)");
        } else {
            String b = values.word(m.get("bus"), "bus", List.of("pci", "platform"));
            if (b != null) {
                bus = b.equals("pci") ? DeviceSpec.Bus.PCI : DeviceSpec.Bus.PLATFORM;
            }
        }
        boolean pci = bus == DeviceSpec.Bus.PCI;
        Bdf bdf = null;
        YNode bn = m.get("bdf");
        if (pci) {
            if (bn == null) {
                values.problem(m.loc(), label + ": a pci device needs 'bdf' (e.g. \"00:02.0\")");
            } else {
                bdf = bdf(bn, "bdf");
                if (bdf != null && bdfs.containsKey(bdf)) {
                    values.problem(bn.loc(), "bdf " + bdf + " is already taken by device '" + bdfs.get(bdf) + "'");
                } else if (bdf != null) {
                    bdfs.put(bdf, name == null ? "?" : name);
                }
            }
        } else if (bus != null) {
            for (String k : List.of("bdf", "acs", "alias-of")) {
                if (m.entry(k) != null) {
                    values.problem(m.entry(k).keyLoc(), label + ": '" + k + "' applies to pci devices only");
                }
            }
        }
        String iommu = null;
        IommuSpec is = null;
        DeviceRules rules = null;
        YNode in = m.get("iommu");
        if (in != null) {
            iommu = values.string(in, "iommu");
            if (iommu != null) {
                is = iommus.get(iommu);
                rules = is == null ? null : IommuKinds.require(is.kind()).deviceRules();
                if (is == null) {
                    values.problem(in.loc(), label + " is on an unknown IOMMU '" + iommu + "'"
                            + Names.hint(iommu, iommus.keySet())
                            + (iommus.isEmpty() ? " (platform.iommus declares none)"
                                    : " (platform.iommus declares: " + String.join(", ", iommus.keySet()) + ")"));
                }
            }
        }
        Set<String> caps = new LinkedHashSet<>();
        YNode cn = m.get("caps");
        if (cn != null && !ScenarioValues.isNull(cn)) {
            if (cn instanceof YList cl) {
                for (YNode c : cl.items()) {
                    String w = values.word(c, "cap", CAPS);
                    if (w != null) {
                        caps.add(w);
                    }
                }
                if (!pci && bus != null && !cl.items().isEmpty()) {
                    values.problem(cn.loc(), label + ": caps are PCI capabilities; a platform device has caps: []");
                }
            } else {
                values.problem(cn.loc(), "'caps' must be a list of ats, pasid, pri; found " + cn.kindName());
            }
        }
        int pasidBits = pci && caps.contains("pasid") ? 20 : 0;
        YNode pn = m.get("pasid-bits");
        if (pn != null) {
            Long v = values.number(pn, "pasid-bits");
            if (v != null) {
                if (v < 0 || v > 20) {
                    values.problem(pn.loc(), "pasid-bits must be in 0..20; got " + v);
                } else if (pci && v > 0 && !caps.contains("pasid")) {
                    values.problem(pn.loc(), label + ": pasid-bits " + v + " needs the pasid capability in caps");
                } else {
                    pasidBits = v.intValue();
                }
            }
        }
        boolean acs = true;
        if (m.get("acs") != null && pci) {
            Boolean b = values.bool(m.get("acs"), "acs");
            acs = b == null || b;
        }
        Bdf alias = null;
        if (m.get("alias-of") != null && pci) {
            alias = bdf(m.get("alias-of"), "alias-of");
            // pci_add_dma_alias only aliases devfns on the function's own bus.
            if (alias != null && bdf != null && (alias.segment() != bdf.segment() || alias.bus() != bdf.bus())) {
                values.problem(m.get("alias-of").loc(), label + ": alias-of " + alias + " must be on the device's own bus "
                        + String.format("%04x:%02x", bdf.segment(), bdf.bus()) + " (a DMA alias is a devfn on the same bus)");
                alias = null;
            }
        }
        List<Integer> sids = List.of();
        YNode sn = m.get("stream-ids");
        if (sn != null) {
            if (rules != null && rules.requesterIds()) {
                values.problem(m.entry("stream-ids").keyLoc(), label + ": stream-ids apply to masters of stream-ID "
                        + "kinds only (" + iommu + " is " + is.kind() + ": " + rules.title() + " uses the requester ID)");
            } else if (sn instanceof YList sl && !sl.items().isEmpty()) {
                List<Integer> out = new ArrayList<>();
                for (YNode i : sl.items()) {
                    Long v = values.number(i, "stream id");
                    if (v != null) {
                        if (v < 0 || v > 0xffffffffL) {
                            values.problem(i.loc(), "stream id " + Numbers.format(v) + " does not fit 32 bits");
                        } else {
                            out.add(v.intValue());
                        }
                    }
                }
                sids = out;
            } else {
                values.problem(sn.loc(), "'stream-ids' must be a non-empty list of numbers");
            }
        } else if (!pci && bus != null && rules != null && !rules.requesterIds()) {
            values.problem(m.loc(), label + ": a platform device behind " + iommu + " needs 'stream-ids' (firmware's IDs for it)");
        }
        boolean cs = false;
        if (m.get("context-switch") != null) {
            Boolean b = values.bool(m.get("context-switch"), "context-switch");
            if (b != null) {
                if (rules != null && !rules.contextSwitch().test(is.options()) && b) {
                    values.problem(m.entry("context-switch").keyLoc(), label
                            + ": context-switch applies only to masters behind " + contextSwitchUnits());
                }
                cs = b;
            }
        }
        // dma-can-stall: the device tree property (IORT: a named component's stall flag) that a
        // driver with a stall model reads at probe_device for a platform master (the kind's rules)
        boolean stall = false;
        if (m.get("dma-can-stall") != null) {
            Boolean b = values.bool(m.get("dma-can-stall"), "dma-can-stall");
            if (b != null && b) {
                Loc kl = m.entry("dma-can-stall").keyLoc();
                if (pci) {
                    values.problem(kl, label + ": dma-can-stall applies to platform masters (a PCIe function"
                            + " cannot stall its transactions; it uses PRI)");
                } else if (in == null || rules != null && !rules.dmaCanStall().test(is.options())) {
                    values.problem(kl, label + ": dma-can-stall applies only to masters behind " + stallUnits()
                            + (in == null ? " (the device has no iommu)"
                                    : rules.dmaCanStallWhere() == null ? " (" + iommu + " is " + is.kind() + ": "
                                            + rules.title() + " has no stall model)"
                                    : " (" + iommu + "'s options give it no stall model)"));
                }
                stall = true;
            }
        }
        List<DeviceSpec.Reserved> reserved = new ArrayList<>();
        YList rl = values.listOf(m.get("reserved"), "reserved");
        if (rl != null) {
            for (YNode r : rl.items()) {
                DeviceSpec.Reserved rr = reserved(r);
                if (rr != null && rules != null && rules.firmwareRegions() != null
                        && !rules.firmwareRegions().contains(rr.kind().word)) {
                    values.problem(r.loc(), label + ": " + rules.title() + " firmware reports "
                            + rules.firmwareRegionsWhat() + ", not " + rr.kind().word);
                } else if (rr != null) {
                    reserved.add(rr);
                }
            }
        }
        if (rules != null && rules.requesterIds() && bus == DeviceSpec.Bus.PLATFORM) {
            values.problem(m.get("bus").loc(), label + ": " + rules.title() + " translates PCI requester IDs; "
                    + "a platform device cannot be behind " + iommu);
        }
        if (cs && name != null) {
            contextSwitchMasters.add(name);
        }
        if (rules != null && bus != null && rules.oneBus()) {
            // e.g. a driver with one device_group rule for the whole instance
            Map.Entry<DeviceSpec.Bus, Loc> first = iommuBus.putIfAbsent(iommu, Map.entry(bus, m.loc()));
            if (first != null && first.getKey() != bus) {
                String k = is.kind();
                values.problem(m.get("bus").loc(), label + ": " + k + " IOMMU '" + iommu + "' already serves "
                        + first.getKey().name().toLowerCase(java.util.Locale.ROOT) + " devices (line "
                        + first.getValue().line() + "); a " + k + " serves one bus: declare a second " + k);
            }
        }
        // untrusted: true: a PCI function behind an external-facing port (pdev->untrusted), carried
        // in caps as the word "untrusted"
        if (m.get("untrusted") != null && Boolean.TRUE.equals(values.bool(m.get("untrusted"), "untrusted"))) {
            if (pci) {
                caps.add("untrusted");
            } else {
                values.problem(m.entry("untrusted").keyLoc(), label + ": untrusted applies to PCI functions");
            }
        }
        String driver = "none";
        if (m.get("driver") != null) {
            driver = values.word(m.get("driver"), "driver", List.of("dma-api", "none"));
        }
        // Declare last, so a device whose entry is wrong does not also cause "undefined" noise.
        if (name != null) {
            names.declare(m.get("name"), NameKind.DEVICE);
        }
        if (values.problemCount() > before || name == null || bus == null) {
            return null;
        }
        return new DeviceSpec(name, m.loc(), bus, bdf, iommu, java.util.Collections.unmodifiableSet(new java.util.LinkedHashSet<>(caps)), pasidBits, acs, alias, sids, cs, stall,
                List.copyOf(reserved), driver);
    }

    private DeviceSpec.Reserved reserved(YNode node) {
        if (!(node instanceof YMap m)) {
            values.problem(node.loc(), "a reserved region is {kind, base, size}; found " + node.kindName());
            return null;
        }
        values.unknownKeys(m, Set.of("kind", "base", "size"), "reserved region");
        List<String> kinds = new ArrayList<>();
        for (DeviceSpec.Reserved.Kind k : DeviceSpec.Reserved.Kind.values()) {
            kinds.add(k.word);
        }
        DeviceSpec.Reserved.Kind kind = null;
        Long base = null;
        Long size = null;
        for (String k : List.of("kind", "base", "size")) {
            if (m.get(k) == null) {
                values.problem(m.loc(), "reserved region without '" + k + "'");
            }
        }
        if (m.get("kind") != null) {
            String w = values.word(m.get("kind"), "reserved kind", kinds);
            kind = w == null ? null : DeviceSpec.Reserved.Kind.of(w);
        }
        if (m.get("base") != null) {
            base = values.number(m.get("base"), "base");
        }
        if (m.get("size") != null) {
            size = values.number(m.get("size"), "size");
            if (size != null && size <= 0) {
                values.problem(m.get("size").loc(), "reserved region size must be positive");
                size = null;
            }
        }
        return kind == null || base == null || size == null ? null : new DeviceSpec.Reserved(kind, base, size);
    }

    Bdf bdf(YNode n, String what) {
        String s = values.scalarText(n, what);
        if (s == null) {
            return null;
        }
        try {
            return Bdf.parse(s);
        } catch (IllegalArgumentException e) {
            values.problem(n.loc(), "bad " + what + " '" + s + "': write bus:device.function in hex, e.g. \"00:02.0\" "
                    + "or \"0001:00:02.0\"");
            return null;
        }
    }
}
