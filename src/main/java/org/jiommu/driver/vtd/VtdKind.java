package org.jiommu.driver.vtd;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.jiommu.base.Errno;
import org.jiommu.base.Hex;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.hw.vtd.ScalableContextEntry;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.hw.vtd.VtdTables;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.DeviceRules;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.KindOption;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.UnitSpec;

/**
 * The {@code vtd} kind: Intel VT-d remapping units ({@code hw.vtd.VtdUnit}) and the VT-d driver.
 *
 * <p>Spec options: the scenario keys {@code scalable} (ECAP.SMTS), {@code address-width} (MGAW;
 * SAGAW every table width that fits), {@code pasid-bits} (ECAP.PSS + 1), {@code ecap} (the
 * extended capabilities that are on; all by default), {@code iotlb-entries}; programmatic only:
 * {@code config} (a whole {@link VtdConfig}), {@code scope} (a {@code Predicate<PciDevice>}, the
 * DRHD device scope; default: the devices firmware names the unit for), {@code include-all}
 * (INCLUDE_PCI_ALL: every PCI device no other unit claims), and on the first unit
 * {@code scalable-mode} (false: {@code intel_iommu=sm_off}).
 */
public final class VtdKind implements IommuKind {
    @Override
    public String name() {
        return "vtd";
    }

    /** The scenario keys of a VT-d unit (SCENARIOS.md), as {@link #config} reads them. */
    @Override
    public Map<String, KindOption> options() {
        Map<String, KindOption> m = new LinkedHashMap<>();
        m.put("scalable", KindOption.bool());
        // CAP.MGAW of the widths the second-level tables come in (3-, 4-, 5-level, VT-d 3.6)
        m.put("address-width", KindOption.numberOf(39, 48, 57));
        // A scalable unit reports ECAP.PSS + 1 = 1..20 PASID bits (VT-d 11.4.3); no 0.
        m.put("pasid-bits", KindOption.range(1, 20));
        // The extended capabilities the unit model has (HARDWARE.md 2.1): listed = on.
        m.put("ecap", KindOption.words("qi", "dt", "pt", "sc", "nest", "flts", "slts"));
        return m;
    }

    /**
     * A DMAR unit sees requester IDs: the driver probes PCI devices only
     * (intel_iommu_probe_device; ACPI namespace devices in a DRHD scope are not modelled), and a
     * DMAR table reports RMRRs per device (the MSI window is the driver's own).
     */
    @Override
    public DeviceRules deviceRules() {
        return DeviceRules.requesterIds("VT-d").firmwareRegions("RMRRs only (direct or direct-relaxable)",
                "direct", "direct-relaxable");
    }

    @Override
    @SuppressWarnings("unchecked")
    public IommuUnits create(Platform platform, List<UnitSpec> specs) {
        List<VtdConfig> configs = new ArrayList<>();
        List<Predicate<PciDevice>> scopes = new ArrayList<>();
        for (UnitSpec spec : specs) {
            VtdConfig cfg = spec.object("config", VtdConfig.class);
            configs.add(cfg != null ? cfg : config(spec));
            String name = spec.name();
            Predicate<PciDevice> scope = spec.object("scope", Predicate.class);
            if (scope == null && !spec.bool("include-all", false)) {
                // each unit's DRHD scope is the devices firmware puts behind it
                scope = dev -> name.equals(platform.iommuOf(dev));
            }
            scopes.add(scope);
        }
        return new VtdUnits(this, platform, specs.get(0).bool("scalable-mode", true), configs, scopes);
    }

    /** A unit from the scenario file's options. */
    static VtdConfig config(UnitSpec spec) {
        VtdConfig.Builder b = VtdConfig.builder().name(spec.name())
                .scalableMode(spec.bool("scalable", true))
                .addressWidth((int) spec.number("address-width", 48))
                .pasidBits((int) spec.number("pasid-bits", 20))
                .iotlbEntries((int) spec.number("iotlb-entries", 1024));
        if (spec.options().containsKey("ecap")) {
            List<Object> on = spec.list("ecap", List.of());
            b.queuedInvalidation(on.contains("qi"))
                    .deviceTlb(on.contains("dt"))
                    .passThrough(on.contains("pt"))
                    .snoopControl(on.contains("sc"))
                    .nested(on.contains("nest"))
                    .firstLevel(on.contains("flts"))
                    .secondLevel(on.contains("slts"));
        }
        return b.build();
    }

    /**
     * The stress bed on one scalable-mode unit; every shared device a PCI function (docs/check.md 4):
     * a1 plain, a2 with ATS, b1+b2 conventional PCI behind a PCIe-to-PCI bridge (one group, DMA
     * aliased to the bridge as 1e:00.0, b1's own id: scalable mode sets up a context entry only
     * for a device's own ids (intel_pasid_setup_sm_context), so b2's DMA walks b1's PASID
     * directory; with no function at devfn 0 both would fault and I7 would report the bridge
     * alias on every check, docs/driver-vtd.md 11), r with a firmware RMRR (require_direct), p
     * with ATS, 20 PASID bits and PRI, q1+q2 two functions of one card without ACS (one group; shared PASID slots with part 2);
     * with part 2 also n (3 PASID bits). Each worker gets its own lane endpoint (ATS on even ones).
     * The devices are probed, all released and probed again: the frames the driver keeps for good
     * (context tables) are then in the
     * baseline, and a driver that leaks anything else at release fails I10 at the end. Page
     * requests come from the devices' DMA through the unit's queue; an aux attach may also get
     * -EPERM (docs/check.md 4).
     */
    @Override
    public StressBed stressBed(StressBed.Shape shape) {
        VtdPlatform vp = VtdPlatform.builder().unit(VtdConfig.scalable(48)).build();
        VtdUnits vtd = vp.vtd();
        Platform p = vp.platform();
        PciBus root = vtd.topology().rootBus(0, 0);
        PciDevice a1 = endpoint(root, "a1", 0x02, false, 0, false);
        PciDevice a2 = endpoint(root, "a2", 0x03, true, 0, false);
        PciBus legacy = root.pcieToPciBridge("p2p", 0x1e, 0, 0x1e);
        PciDevice b1 = legacy.endpoint("b1", 0, 0);
        PciDevice b2 = legacy.endpoint("b2", 2, 0);
        PciDevice r = endpoint(root, "r", 0x04, false, 0, false);
        vtd.driver().addRmrr(r, StressBed.DIRECT, 0x2000, false);
        PciDevice pd = endpoint(root, "p", 0x05, true, 20, true);
        PciBus card = root.rootPort("rp-q", 0x06, 0, 0x06, Acs.ISOLATED);
        PciDevice q1 = card.endpoint("q1", 0, 0, true, 20, true, Acs.NONE);
        PciDevice q2 = card.endpoint("q2", 0, 1, true, 20, true, Acs.NONE);
        List<PciDevice> all = new ArrayList<>(List.of(a1, a2, b1, b2, r, pd, q1, q2));
        List<PciDevice> pasidDevices = new ArrayList<>(List.of(pd));
        if (shape.pasids()) {
            PciDevice n = endpoint(root, "n", 0x07, true, 3, true);
            all.add(n);
            pasidDevices.addAll(List.of(q1, q2, n));
        }
        List<PciDevice> laneDevices = new ArrayList<>();
        for (int t = 0; t < shape.threads(); t++) {
            laneDevices.add(endpoint(root, "lane" + t, 0x08 + t, t % 2 == 0, 0, false));
        }
        List<PciDevice> every = new ArrayList<>(all);
        every.addAll(laneDevices);
        for (PciDevice d : every) {
            vtd.hotplug(d);
        }
        for (PciDevice d : every) {
            vtd.remove(d);
        }
        if (!p.core().liveDomains().isEmpty()) {
            throw new IllegalStateException("domains left after releasing every device: " + p.core().liveDomains());
        }
        FrameAllocator.Stats base = p.frames().stats();
        p.baseline(base);
        for (PciDevice d : every) {
            vtd.hotplug(d);
        }
        List<StressBed.Lane> lanes = new ArrayList<>();
        for (PciDevice d : laneDevices) {
            lanes.add(new StressBed.Lane(d, vtd.dma(d)));
        }
        return new StressBed(shape, p, List.copyOf(all), pasidDevices, lanes, base, true,
                Map.of("AUX_ATTACH", EnumSet.of(Errno.EPERM)));
    }

    /**
     * The bed of {@link #stressBed} as a scenario's platform: the same unit options, ports,
     * bridge, functions (names, BDFs, ATS/PASID/PRI, ACS) and r's RMRR, so a stress run's calls
     * replay on it as scenario steps. {@code VtdStressBedScenarioTest} pins the groups to the bed's.
     */
    @Override
    public String stressBedScenario(StressBed.Shape shape) {
        StringBuilder y = new StringBuilder("platform:\n  memory: 16GiB\n  iommus:\n    - {name: dmar0, kind: vtd}\n"
                + "  pci:\n");
        scenarioPort(y, "a1", 0x02, "[]", 0, "");
        scenarioPort(y, "a2", 0x03, "[ats]", 0, "");
        y.append("    - pcie-to-pci-bridge: p2p\n      bdf: \"00:1e.0\"\n      secondary-bus: 0x1e\n      iommu: dmar0\n"
                + "      below:\n"
                + "        - {name: b1, bus: pci, bdf: \"1e:00.0\", iommu: dmar0}\n"
                + "        - {name: b2, bus: pci, bdf: \"1e:02.0\", iommu: dmar0}\n");
        scenarioPort(y, "r", 0x04, "[]", 0, ", reserved: [{kind: direct, base: " + Hex.of(StressBed.DIRECT)
                + ", size: 0x2000}]");
        scenarioPort(y, "p", 0x05, "[ats, pasid, pri]", 20, "");
        y.append("    - root-port: rp-q\n      bdf: \"00:06.0\"\n      secondary-bus: 0x06\n      acs: true\n"
                + "      iommu: dmar0\n      below:\n");
        for (int fn = 0; fn < 2; fn++) {
            y.append("        - {name: q").append(fn + 1).append(", bus: pci, bdf: \"06:00.").append(fn)
                    .append("\", iommu: dmar0, acs: false, caps: [ats, pasid, pri], pasid-bits: 20}\n");
        }
        if (shape.pasids()) {
            scenarioPort(y, "n", 0x07, "[ats, pasid, pri]", 3, "");
        }
        for (int t = 0; t < shape.threads(); t++) {
            scenarioPort(y, "lane" + t, 0x08 + t, t % 2 == 0 ? "[ats]" : "[]", 0, "");
        }
        return y.toString();
    }

    /** A root port with ACS at {@code 00:slot.0} and one function below it on bus {@code slot}, as {@link #endpoint}. */
    private static void scenarioPort(StringBuilder y, String name, int slot, String caps, int pasidBits, String more) {
        String bus = String.format("%02x", slot);
        y.append("    - root-port: rp-").append(name).append("\n      bdf: \"00:").append(bus).append(".0\"\n")
                .append("      secondary-bus: 0x").append(bus).append("\n      acs: true\n      iommu: dmar0\n")
                .append("      below:\n        - {name: ").append(name).append(", bus: pci, bdf: \"").append(bus)
                .append(":00.0\", iommu: dmar0, acs: false, caps: ").append(caps)
                .append(pasidBits > 0 ? ", pasid-bits: " + pasidBits : "").append(more).append("}\n");
    }


    private static PciDevice endpoint(PciBus root, String name, int slot, boolean ats, int pasidBits, boolean pri) {
        return root.rootPort("rp-" + name, slot, 0, slot, Acs.ISOLATED).endpoint(name, 0, 0, ats, pasidBits, pri,
                Acs.NONE);
    }

    /**
     * The stress plant {@code stray-pasid-entry}: a present pass-through entry at PASID 5 of a
     * device without PASIDs (whose table only RID_PASID uses), as a driver that forgot to clear
     * an entry would leave it; found through the tables as the unit walks them. The device is a2
     * on the built-in bed; on a bed of a file's own platform, a2's role: the first shared PCI
     * function without PASIDs that has a scalable-mode context entry ({@link #strayPasidTarget}).
     *
     * @throws IllegalArgumentException if the bed has no such device ({@link #strayPasidRefusal})
     */
    static void plantStrayPasidEntry(VtdUnits vtd, StressBed bed) {
        PciDevice target = strayPasidTarget(vtd, bed);
        if (target == null) {
            throw new IllegalArgumentException("stray-pasid-entry: " + strayPasidRefusal(vtd, bed));
        }
        long entry = strayPasidEntry(vtd, target);
        long[] words = VtdEncoder.passThroughPasidEntry(48, VtdIommu.FLPT_DEFAULT_DID, false, true);
        // the present bit (word 0) last, as a driver writes it
        PhysicalMemory mem = vtd.platform().memory();
        for (int i = words.length - 1; i >= 0; i--) {
            mem.writeLong(entry + 8L * i, words[i]);
        }
    }

    /** Why {@code stray-pasid-entry} cannot be planted on {@code bed}, or null. */
    static String strayPasidRefusal(VtdUnits vtd, StressBed bed) {
        return strayPasidTarget(vtd, bed) != null ? null : "it needs a shared PCI function without PASIDs (the"
                + " built-in bed's a2) behind a scalable-mode VT-d unit, whose PASID table it corrupts; the bed has"
                + " none (" + String.join(", ", bed.devices().stream().map(d -> d.name()).toList()) + ")";
    }

    /** a2, else the first shared PCI function without PASIDs whose unit gave it a PASID table; null if none. */
    static PciDevice strayPasidTarget(VtdUnits vtd, StressBed bed) {
        List<org.jiommu.bus.Device> cands = new ArrayList<>();
        if (bed.device("a2") != null) {
            cands.add(bed.device("a2"));
        }
        cands.addAll(bed.devices());
        for (org.jiommu.bus.Device d : cands) {
            if (d instanceof PciDevice p && !p.isBridge() && p.pasidBits() == 0 && strayPasidEntry(vtd, p) >= 0) {
                return p;
            }
        }
        return null;
    }

    /** The address of PASID 5's entry in {@code p}'s scalable-mode PASID table, or -1. */
    private static long strayPasidEntry(VtdUnits vtd, PciDevice p) {
        VtdIommu u = vtd.driver().unitFor(p);
        if (u == null) {
            return -1;
        }
        VtdTables t = VtdTables.of(u.unit(), vtd.platform().memory());
        if (!t.scalable()) {
            return -1;
        }
        ScalableContextEntry ctx = t.scalableContext(p.requesterId());
        return ctx == null || !ctx.present() ? -1 : t.pasidEntryAddress(ctx, 5);
    }
}
