package org.jiommu.driver.smmuv3;

import java.util.List;
import org.jiommu.hw.smmuv3.SmmuFeatures;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.IommuUnits;
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
 * model), {@code oas} (IDR5.OAS, default 48; {@code ias} must equal it: the SMMU's IAS is its
 * OAS for AArch64 tables), {@code iotlb-entries} (the TLB). Queues are at most 2^8 entries
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
