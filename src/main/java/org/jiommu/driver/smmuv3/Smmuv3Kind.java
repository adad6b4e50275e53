package org.jiommu.driver.smmuv3;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * must equal it: the SMMU's IAS is its OAS for AArch64 tables), {@code iotlb-entries} (the TLB);
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

    /** Stream-ID masters; IORT reports RMRs (direct, direct-relaxable) per master. */
    @Override
    public DeviceRules deviceRules() {
        return DeviceRules.streamIds("SMMUv3").firmwareRegions("IORT RMRs only (direct or direct-relaxable)",
                "direct", "direct-relaxable");
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
                (int) spec.number("sid-bits", 16), (int) spec.number("ssid-bits", 20), oas, granules, LOG2_QUEUE);
    }

    /** No stress bed yet: {@code jiommu stress} leaves smmuv3 out ({@link #hasStressBed}). */
    @Override
    public StressBed stressBed(StressBed.Shape shape) {
        throw new IllegalArgumentException("the smmuv3 kind has no stress bed yet (issue 11)");
    }

    @Override
    public boolean hasStressBed() {
        return false;
    }
}
