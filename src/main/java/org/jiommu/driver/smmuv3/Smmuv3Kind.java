package org.jiommu.driver.smmuv3;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.hw.smmuv3.SmmuFeatures;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.platform.DeviceRules;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.KindOption;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.UnitSpec;

/**
 * The {@code smmuv3} kind: Arm SMMUv3 units ({@link SmmuV3Unit}) and the {@code arm-smmu-v3.c}
 * driver ({@link Smmuv3Driver}).
 *
 * <p>Spec options (scenario keys): {@code ssid-bits} (IDR1.SSIDSIZE, default 20), {@code sid-bits}
 * (IDR1.SIDSIZE, default 16), {@code two-level-stream-table} (IDR0.ST_LEVEL, default true),
 * {@code ats} (IDR0.ATS and PRI, default true), {@code stages} ({@code [s1, s2]} by default),
 * {@code granule} ({@code 4k} or {@code 64k} added to 4K; 16K is not implemented by the hardware
 * model, so the option table does not offer it), {@code oas} (IDR5.OAS, default 48; {@code ias}
 * must equal it: the SMMU's IAS is its OAS for AArch64 tables), {@code stall-model} (IDR0.STALL_MODEL
 * 0b00, stalls supported, when true; default false: 0b01, no stalls), {@code iotlb-entries} (the TLB);
 * the reader checks them against {@link #options} and {@link #optionProblems}. Queues are at most 2^8 entries
 * (IDR1.CMDQS / EVTQS / PRIQS = 8) so a scenario's memory is not spent on them. Programmatic only:
 * {@code features} (a whole {@link SmmuFeatures}).
 */
public final class Smmuv3Kind implements IommuKind {
    /** The queue size the kind's SMMUs advertise (IDR1.*QS): 256 entries. */
    static final int LOG2_QUEUE = 8;

    @Override
    public String name() {
        return "smmuv3";
    }

    /** An SMMUv3 sits in an arm64 machine: processes (mm_create) get AArch64 tables, which SVA shares. */
    @Override
    public org.jiommu.mm.CpuFormat cpuFormat() {
        return org.jiommu.mm.CpuFormat.ARM64;
    }

    /** The scenario keys of an SMMUv3 (SCENARIOS.md), as {@link #features} reads them. */
    @Override
    public Map<String, KindOption> options() {
        Map<String, KindOption> m = new LinkedHashMap<>();
        m.put("ssid-bits", KindOption.range(0, 20));
        m.put("sid-bits", KindOption.range(1, 32));
        m.put("two-level-stream-table", KindOption.bool());
        m.put("ats", KindOption.bool());
        m.put("stages", KindOption.words("s1", "s2"));
        m.put("granule", KindOption.oneOf("4k", "64k"));
        // IDR5.OAS encodings (6.3.6); IAS = OAS for an AArch64-only SMMU.
        m.put("ias", KindOption.numberOf(32, 36, 40, 42, 44, 48, 52));
        m.put("oas", KindOption.numberOf(32, 36, 40, 42, 44, 48, 52));
        // IDR0.STALL_MODEL (6.3.1): true = 0b00, a master may stall (ARM_SMMU_FEAT_STALLS).
        m.put("stall-model", KindOption.bool());
        return m;
    }

    /** At least one stage; {@code ias} equal to {@code oas} (the driver's IAS is the OAS). */
    @Override
    public List<KindOption.Problem> optionProblems(Map<String, Object> options) {
        List<KindOption.Problem> out = new ArrayList<>();
        if (options.get("stages") instanceof List<?> l && l.isEmpty()) {
            out.add(new KindOption.Problem("stages", "an SMMUv3 implements at least one stage (s1, s2)"));
        }
        Object ias = options.get("ias");
        Object oas = options.getOrDefault("oas", 48L);
        if (ias != null && !ias.equals(oas)) {
            out.add(new KindOption.Problem("ias", "ias " + ias + " differs from oas " + oas
                    + " (an AArch64-only SMMUv3's IAS is its OAS)"));
        }
        return out;
    }

    /**
     * Stream-ID masters; IORT reports RMRs (direct, direct-relaxable) per master; a platform master
     * may be {@code dma-can-stall} on a unit with {@code stall-model: true} (arm_smmu_probe_device
     * reads the property only when the SMMU has ARM_SMMU_FEAT_STALLS).
     */
    @Override
    public DeviceRules deviceRules() {
        return DeviceRules.streamIds("SMMUv3").firmwareRegions("IORT RMRs only (direct or direct-relaxable)",
                "direct", "direct-relaxable").dmaCanStall("an smmuv3 with stall-model: true",
                        o -> Boolean.TRUE.equals(o.get("stall-model")));
    }

    @Override
    public IommuUnits create(Platform platform, List<UnitSpec> specs) {
        Smmuv3Units u = new Smmuv3Units(this, platform);
        for (UnitSpec spec : specs) {
            SmmuFeatures f = spec.object("features", SmmuFeatures.class);
            if (f == null) {
                f = features(spec);
            }
            int tlb = (int) spec.number("iotlb-entries", 4096);
            SmmuV3Unit unit = new SmmuV3Unit(spec.name(), platform.memory(), f, tlb, 1024);
            u.add(new Smmuv3Driver(spec.name(), unit, platform.core().services(), platform.frames()));
        }
        return u;
    }

    /** The unit's features from the scenario file's options. */
    static SmmuFeatures features(UnitSpec spec) {
        List<Object> stages = spec.list("stages", List.of("s1", "s2"));
        boolean s1 = stages.contains("s1");
        boolean s2 = stages.contains("s2");
        if (!s1 && !s2) {
            throw new IllegalArgumentException(spec.name() + ": stages must name s1, s2 or both");
        }
        String granule = spec.word("granule", "4k");
        int granules = switch (granule) {
            case "4k" -> 1 << 12;
            case "64k" -> 1 << 12 | 1 << 16;
            default -> throw new IllegalArgumentException(spec.name() + ": granule " + granule
                    + " is not implemented by the smmuv3 hardware model (4k, 64k)");
        };
        int oas = (int) spec.number("oas", 48);
        int ias = (int) spec.number("ias", oas);
        if (ias != oas) {
            throw new IllegalArgumentException(spec.name() + ": ias " + ias + " differs from oas " + oas
                    + " (an AArch64-only SMMUv3's IAS is its OAS)");
        }
        boolean ats = spec.bool("ats", true);
        return new SmmuFeatures(s1, s2, ats, ats, true, spec.bool("two-level-stream-table", true), true, true, true,
                (int) spec.number("sid-bits", 16), (int) spec.number("ssid-bits", 20), oas, granules, LOG2_QUEUE,
                spec.bool("stall-model", false));
    }

    /**
     * The stress bed (docs/check.md 4) on one full SMMU: PCI functions behind their own root
     * ports; b1 + b2 and q1 + q2 are two functions of a card without ACS (one group each: a
     * PCIe-to-PCI bridge would give both functions its alias stream id, which the SMMUv3 driver
     * refuses for the second, "already in tree"); r has an IORT RMR at {@link StressBed#DIRECT};
     * p and the q functions 20 PASID bits and PRI, n 3. One lane per worker, every device probed
     * and released once before the frame baseline (level-2 stream tables stay, as in the kernel).
     */
    @Override
    public StressBed stressBed(StressBed.Shape shape) {
        Platform p = new Platform(1L << 34, CoreConfig.defaults());
        Smmuv3Units u = (Smmuv3Units) p.add(this, List.of(new UnitSpec("smmu0", name(), Map.of())));
        u.start();
        PciBus root = p.topology().rootBus(0, 0);
        List<PciDevice> all = new ArrayList<>();
        all.add(endpoint(root, "a1", 0x02, false, 0, false));
        all.add(endpoint(root, "a2", 0x03, true, 0, false));
        PciBus bcard = root.rootPort("rp-b", 0x1e, 0, 0x1e, Acs.ISOLATED);
        all.add(bcard.endpoint("b1", 0, 0, false, 0, false, Acs.NONE));
        all.add(bcard.endpoint("b2", 0, 1, false, 0, false, Acs.NONE));
        PciDevice r = endpoint(root, "r", 0x04, false, 0, false);
        all.add(r);
        PciDevice pd = endpoint(root, "p", 0x05, true, 20, true);
        all.add(pd);
        List<PciDevice> pasidDevices = new ArrayList<>(List.of(pd));
        if (shape.pasids()) {
            PciBus card = root.rootPort("rp-q", 0x06, 0, 0x06, Acs.ISOLATED);
            PciDevice q1 = card.endpoint("q1", 0, 0, true, 20, true, Acs.NONE);
            PciDevice q2 = card.endpoint("q2", 0, 1, true, 20, true, Acs.NONE);
            PciDevice n = endpoint(root, "n", 0x07, true, 3, true);
            all.addAll(List.of(q1, q2, n));
            pasidDevices.addAll(List.of(q1, q2, n));
        }
        List<PciDevice> lanes = new ArrayList<>();
        for (int t = 0; t < shape.threads(); t++) {
            lanes.add(endpoint(root, "lane" + t, 0x08 + t, t % 2 == 0, 0, false));
        }
        List<PciDevice> every = new ArrayList<>(all);
        every.addAll(lanes);
        for (int round = 0; round < 2; round++) {
            for (PciDevice d : every) {
                p.describe(d, "smmu0");
                List<ResvRegion> rr = d == r
                        ? List.of(ResvRegion.direct(StressBed.DIRECT, 0x2000)) : List.of();
                u.enumerate(new IommuUnits.Firmware(d, "smmu0", List.of(), round == 0 ? rr : List.of(), false), true);
            }
            if (round == 0) {
                for (PciDevice d : every) {
                    p.core().deviceDel(d);
                }
                if (!p.core().liveDomains().isEmpty()) {
                    throw new IllegalStateException("domains left after releasing every device: "
                            + p.core().liveDomains());
                }
                p.takeBaseline();
            }
        }
        List<StressBed.Lane> ls = new ArrayList<>();
        for (PciDevice d : lanes) {
            ls.add(new StressBed.Lane(d, p.engine(d)));
        }
        // Race 9: between a flush's TLBI batch and its ATC_INV batch, every ATS lane on the domain
        // has a translation request in flight (a read of the flushed range's first page). With the
        // kernel's order it finds the TLB clean or its ATC entry is invalidated next; with the ATC
        // invalidated first it refills the stale entry, which the lane's DMA after the unmap meets.
        u.driver("smmu0").flush().gap((dev, ssid, iova) -> {
            if (lanes.contains(dev)) {
                p.engine(dev).read(ssid == 0 ? DmaTranslator.NO_PASID : ssid, iova, new byte[4], 0, 4,
                        new DmaResult());
            }
        });
        // The stress world's processes are arm64 mms (this kind's cpuFormat), so SVA binds and its
        // DMA walks the process's AArch64 table; these PCI functions do not stall, so an untouched
        // page faults (a PCIe page request is not IOPF here: arm_smmu_handle_ppr answers DENY) and
        // the world expects that (docs/check.md 4). Enabling a feature already on is -EBUSY
        // (arm_smmu_dev_enable_feature).
        return new StressBed(shape, p, List.copyOf(all), pasidDevices, ls, p.baseline(), true, Map.of(
                "AUX_ATTACH", EnumSet.of(Errno.EINVAL),
                "FEATURE_ENABLE", EnumSet.of(Errno.EBUSY)));
    }

    private static PciDevice endpoint(PciBus root, String name, int slot,
                                                        boolean ats, int pasidBits, boolean pri) {
        return root.rootPort("rp-" + name, slot, 0, slot, Acs.ISOLATED).endpoint(name, 0, 0, ats,
                pasidBits, pri, Acs.NONE);
    }
}
