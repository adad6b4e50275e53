package org.jiommu.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.DmaAlias;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.PasidEntry;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.scenario.ScenarioSession;

/**
 * {@code /api/platform}: what the machine is after the current step, from the core's snapshot
 * and the PCI hierarchies: the IOMMUs, the PCI buses with their bridges and functions, the
 * platform devices, the groups (with why each device is in its group, as pci_device_group
 * decides it), each group's domain, owner and PASID attachments, and the live domains with a
 * class for colouring (blocked, identity, paging, sva).
 */
final class PlatformJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private PlatformJson() {
    }

    static ObjectNode of(ScenarioSession s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("position", s.position());
        o.put("summary", s.summary());
        Platform p = s.platform();
        CoreSnapshot snap = p.core().snapshot();
        ArrayNode iommus = o.putArray("iommus");
        for (IommuUnits u : p.units()) {
            for (String name : u.names()) {
                iommus.addObject().put("name", name).put("kind", u.kind().name());
            }
        }
        Map<String, Device> devices = s.devices();
        ArrayNode devs = o.putArray("devices");
        for (Device d : devices.values()) {
            devs.add(device(s, p, snap, d));
        }
        buses(o.putArray("pciBuses"), p, devices);
        groups(o.putArray("groups"), s, snap);
        domains(o.putArray("domains"), s, snap);
        return o;
    }

    private static ObjectNode device(ScenarioSession s, Platform p, CoreSnapshot snap, Device d) {
        ObjectNode o = JSON.createObjectNode();
        o.put("name", d.name());
        o.put("iommu", p.iommuOf(d));
        o.put("driver", s.driver(d));
        CoreSnapshot.DeviceState ds = snap.device(d);
        o.put("onBus", ds != null && ds.onBus());
        o.put("probed", ds != null && ds.iommu() != null);
        if (ds != null && ds.groupId() != null) {
            o.put("group", ds.groupId());
        }
        if (d instanceof PciDevice pd) {
            o.put("bus", "pci");
            o.put("bdf", pd.bdf());
            o.put("kind", pd.kind().name().toLowerCase().replace('_', '-'));
            o.put("bridge", pd.isBridge());
            o.put("ats", pd.hasAts());
            o.put("atsEnabled", pd.atsEnabled());
            o.put("pasidBits", pd.pasidBits());
            PciDevice up = pd.upstreamBridge();
            o.put("upstream", up == null ? null : up.name());
            o.put("reason", pd.topology() == null ? null : reason(pd));
        } else {
            o.put("bus", "platform");
            o.put("reason", "platform device: its IOMMU driver's device_group (generic_device_group: a group of its own)");
        }
        return o;
    }

    /**
     * Why a PCI function is grouped as it is (pci_device_group, drivers/iommu/iommu.c): the
     * bridges its requests are aliased to, then the functions it must share a group with (no
     * ACS isolation on the path or in its slot, or DMA aliases).
     */
    static String reason(PciDevice d) {
        PciTopology t = d.topology();
        List<String> why = new ArrayList<>();
        for (DmaAlias a : t.dmaAliases(d)) {
            if (a.device() != d) {
                why.add("requests aliased to " + a.device().name() + " (requester id " + rid(a.requesterId()) + ")");
            } else if (a.requesterId() != d.requesterId()) {
                why.add("DMA alias quirk: also requester id " + rid(a.requesterId()));
            }
        }
        List<PciDevice> share = t.mustShareWith(d);
        if (!share.isEmpty()) {
            why.add("must share with " + String.join(", ", share.stream().map(PciDevice::name).toList())
                    + " (no ACS isolation on the path or in its slot, or DMA aliases)");
        }
        if (why.isEmpty()) {
            why.add("no DMA aliases and no function it must share with: a group of its own");
        }
        return String.join("; ", why);
    }

    private static String rid(int rid) {
        return String.format("%02x:%02x.%d", rid >> 8, rid >> 3 & 0x1f, rid & 7);
    }

    /** Every PCI bus of the hierarchies the devices are in: its bridge, parent bus and functions. */
    private static void buses(ArrayNode out, Platform p, Map<String, Device> devices) {
        Set<PciTopology> topos = new LinkedHashSet<>();
        for (Device d : devices.values()) {
            if (d instanceof PciDevice pd && pd.topology() != null) {
                topos.add(pd.topology());
            }
        }
        for (PciTopology t : topos) {
            for (PciBus b : t.rootBuses()) {
                bus(out, b);
            }
        }
    }

    private static void bus(ArrayNode out, PciBus b) {
        ObjectNode o = out.addObject();
        o.put("id", busId(b));
        o.put("self", b.self() == null ? null : b.self().name());
        o.put("parent", b.parent() == null ? null : busId(b.parent()));
        ArrayNode devs = o.putArray("devices");
        for (PciDevice d : b.devices()) {
            devs.add(d.name());
        }
        for (PciDevice d : b.devices()) {
            if (d.isBridge() && d.secondaryBus() != null) {
                bus(out, d.secondaryBus());
            }
        }
    }

    private static String busId(PciBus b) {
        return String.format("%04x:%02x", b.segment(), b.number());
    }

    /** The colour class of a domain: blocked, identity, paging or sva. */
    static String domainClass(IommuDomain d) {
        if (d == null) {
            return "none";
        }
        DomainType t = d.type();
        return switch (t) {
            case BLOCKED -> "blocked";
            case IDENTITY -> "identity";
            case SVA -> "sva";
            default -> t.isPaging() ? "paging" : t.name().toLowerCase();
        };
    }

    private static ObjectNode domainRef(ScenarioSession s, IommuDomain d, IommuGroup g) {
        ObjectNode o = JSON.createObjectNode();
        o.put("name", d == null ? "none" : s.domainName(d, g));
        o.put("type", d == null ? null : d.type().name());
        o.put("class", domainClass(d));
        return o;
    }

    private static void groups(ArrayNode out, ScenarioSession s, CoreSnapshot snap) {
        for (CoreSnapshot.GroupState g : snap.groups()) {
            IommuGroup group = g.devices().isEmpty() ? null : s.group(g.devices().get(0));
            ObjectNode o = out.addObject();
            o.put("id", g.id());
            ArrayNode devs = o.putArray("devices");
            g.devices().forEach(d -> devs.add(d.name()));
            o.set("domain", domainRef(s, g.domain(), group));
            o.set("defaultDomain", domainRef(s, g.defaultDomain(), group));
            o.put("owner", g.owner() == null ? null : String.valueOf(g.owner()));
            o.put("ownerCnt", g.ownerCnt());
            ArrayNode pasids = o.putArray("pasids");
            for (Map.Entry<Integer, PasidEntry> e : g.pasids().entrySet()) {
                if (e.getKey() == 0 || e.getValue().domain() == null) {
                    continue; // slot 0 is the group handle's, a reservation is not visible yet
                }
                ObjectNode po = domainRef(s, e.getValue().domain(), group);
                po.put("pasid", e.getKey());
                pasids.add(po);
            }
        }
    }

    private static void domains(ArrayNode out, ScenarioSession s, CoreSnapshot snap) {
        Map<IommuDomain, List<String>> users = new IdentityHashMap<>();
        // the group a domain is the default or blocking domain of names it "default" / "blocked"
        Map<IommuDomain, IommuGroup> home = new IdentityHashMap<>();
        for (CoreSnapshot.GroupState g : snap.groups()) {
            IommuGroup group = g.devices().isEmpty() ? null : s.group(g.devices().get(0));
            if (g.defaultDomain() != null) {
                home.put(g.defaultDomain(), group);
            }
            if (g.blockingDomain() != null) {
                home.put(g.blockingDomain(), group);
            }
            if (g.domain() != null) {
                users.computeIfAbsent(g.domain(), k -> new ArrayList<>()).add("group " + g.id());
            }
            g.pasids().forEach((pasid, e) -> {
                if (pasid != 0 && e.domain() != null) {
                    users.computeIfAbsent(e.domain(), k -> new ArrayList<>()).add("group " + g.id() + " pasid " + pasid);
                }
            });
        }
        for (CoreSnapshot.DomainState d : snap.domains()) {
            ObjectNode o = domainRef(s, d.domain(), home.get(d.domain()));
            ArrayNode u = o.putArray("users");
            users.getOrDefault(d.domain(), List.of()).forEach(u::add);
            out.add(o);
        }
    }
}
