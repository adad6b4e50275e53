package org.jiommu.driver.smmuv2;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.hw.smmuv2.Smmuv2Config;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.platform.DeviceRules;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.KindOption;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.UnitSpec;

/**
 * The {@code smmuv2} kind: ARM SMMUv2 units ({@link Smmuv2Unit}) and the {@code arm-smmu.c}
 * driver ({@link Smmuv2Driver}).
 *
 * <p>Spec options: the scenario keys {@code context-banks} (IDR1.NUMCB, default 8),
 * {@code iotlb-entries} (the unit's TLB, default 512 as {@link Smmuv2Config#defaults}),
 * {@code granule} and {@code split-tables}; programmatic only: {@code config} (a whole
 * {@link Smmuv2Config}). The driver builds 4K-granule stage-1 tables
 * (docs/driver-smmuv2.md), so {@code granule} other than {@code 4k} is refused with an
 * {@link IllegalArgumentException} naming the unit, rather than silently built as something
 * else. {@code split-tables: true} gives context-switching masters TTBR1 domains (S11).
 */
public final class Smmuv2Kind implements IommuKind {
    @Override
    public String name() {
        return "smmuv2";
    }

    /** The scenario keys of an SMMUv2 (SCENARIOS.md), as {@link #config} reads them. */
    @Override
    public Map<String, KindOption> options() {
        Map<String, KindOption> m = new LinkedHashMap<>();
        m.put("context-banks", KindOption.range(1, 128));
        m.put("granule", KindOption.oneOf("4k", "16k", "64k"));
        m.put("split-tables", KindOption.bool());
        return m;
    }

    /**
     * Stream-ID masters; a GPU master may switch its own context bank's TTBR0 (S02/S10); firmware
     * reserves regions through IORT RMRs (arm_smmu_get_resv_regions reports them).
     */
    @Override
    public DeviceRules deviceRules() {
        return DeviceRules.streamIds("SMMUv2").contextSwitch("an smmuv2", o -> true)
                .firmwareRegions("IORT RMRs only (direct or direct-relaxable)", "direct", "direct-relaxable");
    }

    @Override
    public IommuUnits create(Platform platform, List<UnitSpec> specs) {
        Smmuv2Units u = new Smmuv2Units(this, platform);
        for (UnitSpec spec : specs) {
            Smmuv2Config cfg = spec.object("config", Smmuv2Config.class);
            if (cfg == null) {
                cfg = config(spec);
            }
            Smmuv2Unit unit = new Smmuv2Unit(spec.name(), platform.memory(), cfg);
            u.add(new Smmuv2Driver(spec.name(), unit, platform.core().services(), platform.frames(),
                    spec.bool("split-tables", false)));
        }
        return u;
    }

    /** A unit from the scenario file's options. */
    static Smmuv2Config config(UnitSpec spec) {
        String granule = spec.word("granule", "4k");
        if (!granule.equals("4k")) {
            // arm_smmu_init_domain_context picks the granule from pgsize_bitmap; the model's
            // driver offers the 4K granule only.
            throw new IllegalArgumentException(spec.name() + ": granule " + granule
                    + " is not supported by the smmuv2 driver (4k only)");
        }
        Smmuv2Config d = Smmuv2Config.defaults();
        return d.withNumCb((int) spec.number("context-banks", d.numCb()))
                .withTlbEntries((int) spec.number("iotlb-entries", d.tlbEntries()));
    }

    /**
     * The stress bed (docs/check.md 4) on one SMMUv2 with 64 SMRs and 128 banks: PCI functions
     * (their stream id is the requester id) on one root bus: a1, a2, r (require_direct through an
     * IORT RMR at {@link StressBed#DIRECT}) and p behind root ports of their own, b1 + b2 behind a
     * PCIe-to-PCI bridge (one group), with PASIDs a two-function card q1 + q2 (one group) and n;
     * one lane endpoint per worker. SMMUv2 has no PASIDs and no PRI: the PASID churn meets the
     * core's refusals (no set_dev_pasid: -EOPNOTSUPP), and AUX is the context-switching GPU's
     * only (S02), so enabling it is -ENODEV here. A map on a shared domain before its first
     * attach is -ENODEV (arm_smmu_map without pgtbl_ops: the context is set up at attach).
     */
    @Override
    public StressBed stressBed(StressBed.Shape shape) {
        Platform p = new Platform(1L << 34, CoreConfig.defaults());
        Smmuv2Config cfg = Smmuv2Config.defaults().withNumSmrg(64).withNumCb(128);
        IommuUnits u = p.add(this, List.of(new UnitSpec("smmu0", name(), Map.of("config", cfg))));
        PciBus root = p.topology().rootBus(0, 0);
        PciDevice a1 = endpoint(root, "a1", 0x02, 0);
        PciDevice a2 = endpoint(root, "a2", 0x03, 0);
        PciBus legacy = root.pcieToPciBridge("p2p", 0x1e, 0, 0x1e);
        PciDevice b1 = legacy.endpoint("b1", 1, 0);
        PciDevice b2 = legacy.endpoint("b2", 2, 0);
        PciDevice r = endpoint(root, "r", 0x04, 0);
        PciDevice pd = endpoint(root, "p", 0x05, 20);
        List<PciDevice> all = new ArrayList<>(List.of(a1, a2, b1, b2, r, pd));
        List<PciDevice> pasidDevices = new ArrayList<>(List.of(pd));
        if (shape.pasids()) {
            PciBus card = root.rootPort("rp-q", 0x06, 0, 0x06, Acs.ISOLATED);
            PciDevice q1 = card.endpoint("q1", 0, 0, false, 20, true, Acs.NONE);
            PciDevice q2 = card.endpoint("q2", 0, 1, false, 20, true, Acs.NONE);
            PciDevice n = endpoint(root, "n", 0x07, 3);
            all.addAll(List.of(q1, q2, n));
            pasidDevices.addAll(List.of(q1, q2, n));
        }
        List<PciDevice> laneDevices = new ArrayList<>();
        for (int t = 0; t < shape.threads(); t++) {
            laneDevices.add(endpoint(root, "lane" + t, 0x08 + t, 0));
        }
        List<PciDevice> every = new ArrayList<>(all);
        every.addAll(laneDevices);
        for (PciDevice d : every) {
            p.describe(d, "smmu0");
            List<ResvRegion> rmr = d == r ? List.of(ResvRegion.direct(StressBed.DIRECT, 0x2000)) : List.of();
            u.enumerate(new IommuUnits.Firmware(d, "smmu0", List.of(), rmr, false), false);
        }
        p.takeBaseline();
        u.start();
        List<StressBed.Lane> lanes = new ArrayList<>();
        for (PciDevice d : laneDevices) {
            lanes.add(new StressBed.Lane(d, p.engine(d)));
        }
        return new StressBed(shape, p, List.copyOf(all), pasidDevices, lanes, p.baseline(), false,
                Map.of("FEATURE_ENABLE", EnumSet.of(Errno.ENODEV), "PASID_ATTACH", EnumSet.of(Errno.EOPNOTSUPP),
                        "MAP", EnumSet.of(Errno.ENODEV)));
    }

    private static PciDevice endpoint(PciBus root, String name, int slot, int pasidBits) {
        return root.rootPort("rp-" + name, slot, 0, slot, Acs.ISOLATED).endpoint(name, 0, 0, false, pasidBits,
                pasidBits > 0, Acs.NONE);
    }
}
