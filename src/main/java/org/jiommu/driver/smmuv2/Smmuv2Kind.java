package org.jiommu.driver.smmuv2;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * {@link Smmuv2Config}). The driver builds 4K-granule stage-1 tables with TTBR1 disabled
 * (docs/driver-smmuv2.md), so {@code granule} other than {@code 4k} and
 * {@code split-tables: true} are refused with an {@link IllegalArgumentException} naming the
 * unit, rather than silently built as something else.
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

    /** Stream-ID masters; a GPU master may switch its own context bank's TTBR0 (S02/S10). */
    @Override
    public DeviceRules deviceRules() {
        return DeviceRules.streamIds("SMMUv2").contextSwitch("an smmuv2", o -> true);
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
            u.add(new Smmuv2Driver(spec.name(), unit, platform.core().services(), platform.frames()));
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
        if (spec.bool("split-tables", false)) {
            throw new IllegalArgumentException(spec.name()
                    + ": split-tables (TTBR1 domains, S11) is not supported by the smmuv2 driver yet");
        }
        Smmuv2Config d = Smmuv2Config.defaults();
        return d.withNumCb((int) spec.number("context-banks", d.numCb()))
                .withTlbEntries((int) spec.number("iotlb-entries", d.tlbEntries()));
    }

    /**
     * No stress bed yet (issue 12 step 4): the contract's PASID devices, aux domains and the
     * require_direct device need the driver's reserved regions and aux support, which it does
     * not have. {@code jiommu stress} skips kinds without a bed ({@link #hasStressBed}).
     */
    @Override
    public StressBed stressBed(StressBed.Shape shape) {
        throw new IllegalArgumentException("the smmuv2 kind has no stress bed yet (issue 12 step 4)");
    }

    @Override
    public boolean hasStressBed() {
        return false;
    }
}
