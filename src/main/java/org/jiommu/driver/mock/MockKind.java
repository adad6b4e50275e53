package org.jiommu.driver.mock;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.platform.DeviceRules;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.KindOption;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.UnitSpec;

/**
 * The {@code mock} kind: the selftest-like driver over ARM LPAE tables, with (by default) its
 * hardware stream table walked by {@link MockHardware}.
 *
 * <p>Spec options: the scenario keys {@code pasid-bits}, {@code blocked-domain},
 * {@code identity-domain}, {@code release-domain}, {@code page-sizes}, {@code aux-model},
 * {@code sva}; {@code pci-masters} (firmware puts PCI functions behind it: pci_device_group, else
 * generic_device_group); programmatic only: {@code config} (a whole {@link MockConfig}) and
 * {@code hardware} (false: no hardware stream table, the driver alone).
 */
public final class MockKind implements IommuKind {
    @Override
    public String name() {
        return "mock";
    }

    /** The scenario keys of a mock (SCENARIOS.md), as {@link #config} reads them. */
    @Override
    public Map<String, KindOption> options() {
        Map<String, KindOption> m = new LinkedHashMap<>();
        m.put("pasid-bits", KindOption.range(0, 20));
        m.put("blocked-domain", KindOption.bool());
        m.put("identity-domain", KindOption.bool());
        m.put("release-domain", KindOption.oneOf("blocked", "identity", "none"));
        m.put("page-sizes", KindOption.sizes());
        // What the mock's hardware can do for aux domains (S02): PASIDs (VT-d, SMMUv3),
        // a context-switching master (SMMUv2's GPU), or nothing.
        m.put("aux-model", KindOption.oneOf("pasid", "context-switch", "none"));
        m.put("sva", KindOption.bool());
        return m;
    }

    /** The release domain is one of the driver's static domains, which it must then have. */
    @Override
    public List<KindOption.Problem> optionProblems(Map<String, Object> options) {
        String rd = (String) options.getOrDefault("release-domain", "blocked");
        String needs = rd.equals("blocked") ? "blocked-domain" : rd.equals("identity") ? "identity-domain" : null;
        if (needs == null || !Boolean.FALSE.equals(options.get(needs))) {
            return List.of();
        }
        return List.of(new KindOption.Problem(options.containsKey("release-domain") ? "release-domain" : needs,
                "release-domain " + rd + " is the driver's static " + rd + " domain: it needs " + needs + ": true"));
    }

    /**
     * Stream-ID masters (the mock's hardware is indexed by stream ID like an SMMU's); with
     * {@code aux-model: context-switch} a master may switch its own tables; one device_group
     * rule for the whole instance ({@link MockConfig.Grouping}), so one mock serves one bus.
     */
    @Override
    public DeviceRules deviceRules() {
        return DeviceRules.streamIds("mock").contextSwitch("a mock with aux-model: context-switch",
                o -> "context-switch".equals(o.get("aux-model"))).oneBusPerUnit();
    }

    @Override
    public IommuUnits create(Platform platform, List<UnitSpec> specs) {
        MockUnits u = new MockUnits(this, platform);
        IommuCore core = platform.core();
        for (UnitSpec spec : specs) {
            MockConfig cfg = spec.object("config", MockConfig.class);
            if (cfg == null) {
                cfg = config(spec);
            }
            MockPageTableFactory tables = MockPageTableFactory.armLpae(platform.frames(), core.services().warnings());
            // The four-argument driver programs its hardware stream table on every attach, so a
            // device's DMA is translated by what the driver wrote (MockHardware walks the tables).
            u.add(spec.name(), spec.bool("hardware", true)
                    ? new MockIommuDriver(cfg, core.services(), tables, new MockHardware(platform.memory()))
                    : new MockIommuDriver(cfg, core.services(), tables));
        }
        return u;
    }

    private static MockConfig config(UnitSpec spec) {
        MockConfig.Builder b = MockConfig.builder(spec.name());
        long bits = spec.number("pasid-bits", 20);
        b.maxPasids(bits == 0 ? 0 : 1 << bits);
        b.staticBlocked(spec.bool("blocked-domain", true));
        b.staticIdentity(spec.bool("identity-domain", true));
        b.releaseDomain(switch (spec.word("release-domain", "blocked")) {
            case "identity" -> MockConfig.ReleaseDomain.IDENTITY;
            case "none" -> MockConfig.ReleaseDomain.NONE;
            default -> MockConfig.ReleaseDomain.BLOCKED;
        });
        long bitmap = 0;
        for (Object size : spec.list("page-sizes", List.of(0x1000L, 0x200000L, 0x40000000L))) {
            bitmap |= (Long) size;
        }
        b.pgsizeBitmap(bitmap);
        b.auxModel(switch (spec.word("aux-model", "pasid")) {
            case "context-switch" -> MockConfig.AuxModel.CONTEXT_SWITCH;
            case "none" -> MockConfig.AuxModel.NONE;
            default -> MockConfig.AuxModel.PASID;
        });
        b.svaSupport(spec.bool("sva", true));
        // The mock has one device_group: pci_device_group for PCI masters, generic_device_group
        // for platform ones; the validator keeps one mock to one bus.
        b.grouping(spec.bool("pci-masters", false) ? MockConfig.Grouping.PCI : MockConfig.Grouping.GENERIC);
        return b.build();
    }

    /**
     * The stress bed on mock M over ARM LPAE tables (no hardware stream table: the workers make
     * no DMA): a1, a2, b1+b2 (a group the mock makes), r (a direct region) as platform devices,
     * p and with PASIDs q1+q2 (one group) and n as PCI functions; no lanes.
     */
    @Override
    public StressBed stressBed(StressBed.Shape shape) {
        Platform p = new Platform(1L << 34, CoreConfig.defaults());
        MockUnits u = (MockUnits) p.add(this, List.of(new UnitSpec("S", name(),
                Map.of("config", MockConfig.builder("S").build(), "hardware", false))));
        u.start();
        p.takeBaseline();
        MockIommuDriver m = u.driver("S");
        PlatformDevice a1 = new PlatformDevice("a1", List.of(1), 0);
        PlatformDevice a2 = new PlatformDevice("a2", List.of(2), 0);
        PlatformDevice b1 = new PlatformDevice("b1", List.of(3), 0);
        PlatformDevice b2 = new PlatformDevice("b2", List.of(4), 0);
        PlatformDevice r = new PlatformDevice("r", List.of(5), 0);
        PciDevice pd = new PciDevice("p", 0, 0, 8, true, 20, true, false);
        m.groupWith(b2, b1);
        m.setResvRegions(r, List.of(ResvRegion.direct(StressBed.DIRECT, 0x2000)));
        List<Device> all = new ArrayList<>(List.of(a1, a2, b1, b2, r, pd));
        List<PciDevice> pasidDevices = new ArrayList<>(List.of(pd));
        if (shape.pasids()) {
            // two functions of one card share a group (shared PASID slots); n has only 8 PASIDs
            PciDevice q1 = new PciDevice("q1", 0, 0, 16, true, 20, true, false);
            PciDevice q2 = new PciDevice("q2", 0, 0, 17, true, 20, true, false);
            PciDevice n = new PciDevice("n", 0, 0, 24, true, 3, true, false);
            m.groupWith(q2, q1);
            all.addAll(List.of(q1, q2, n));
            pasidDevices.addAll(List.of(q1, q2, n));
        }
        for (Device d : all) {
            p.describe(d, "S");
            p.core().fwspecInit(d, m.iommu());
            p.core().deviceAdd(d);
        }
        return new StressBed(shape, p, all, pasidDevices, List.of(), p.baseline(), false, Map.of());
    }
}
