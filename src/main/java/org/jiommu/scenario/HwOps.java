package org.jiommu.scenario;

import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.IommuUnits;

/** Ops that look at the hardware side: what an IOMMU would walk. */
final class HwOps {
    private HwOps() {
    }

    /**
     * hw_dump: the IOMMU's tables as its hardware walks them, as its kind prints them; then the MSI
     * doorbell pages the DMA layer mapped in its devices' domains, if any (they are mappings the
     * tables hold but no dma_map made, so the reader can tell the doorbell IOVA from a buffer's).
     */
    static Outcome hwDump(Machine m, StepArgs a) {
        String iommu = a.word("iommu");
        String dump = m.units(iommu).dump(iommu, (dev, d) -> label(m, dev, d));
        String msi = DmaOps.msiPages(m, m.platform.devicesOn(iommu), d -> label(m, null, d));
        if (msi.isEmpty()) {
            return new Outcome.Report(dump);
        }
        return new Outcome.Report(dump.endsWith("\n") || dump.isEmpty() ? dump + msi.stripTrailing()
                : dump + "\n" + msi.stripTrailing());
    }

    /** stats: the hardware's translation and fault counters, and each device's DMA and ATC counters. */
    static Outcome stats(Machine m, StepArgs a) {
        StringBuilder sb = new StringBuilder();
        boolean iommuOnly = a.has("iommu");
        boolean devOnly = a.has("dev");
        for (IommuUnits u : m.platform.units()) {
            for (String name : u.names()) {
                if ((iommuOnly && !name.equals(a.word("iommu"))) || (devOnly && !iommuOnly)) {
                    continue;
                }
                sb.append(u.stats(name));
            }
        }
        for (Map.Entry<Device, DmaEngine> e : m.engines().entrySet()) {
            if ((devOnly && !e.getKey().name().equals(a.word("dev"))) || (iommuOnly && !devOnly)) {
                continue;
            }
            DmaEngine.Stats st = e.getValue().stats();
            sb.append(String.format("%s: %d DMAs, %d bytes, %d faults; ATC %d hits, %d misses; %d translation "
                    + "requests, %d untranslated requests%n", e.getKey().name(), st.dmas(), st.bytes(), st.faults(),
                    st.atcHits(), st.atcMisses(), st.translationRequests(), st.untranslatedRequests()));
        }
        if (devOnly && m.engines().keySet().stream().noneMatch(d -> d.name().equals(a.word("dev")))) {
            sb.append(a.word("dev")).append(": no DMA yet\n");
        }
        return new Outcome.Report(sb.toString().stripTrailing());
    }

    private static String label(Machine m, Device dev, IommuDomain d) {
        IommuGroup g = dev == null ? null : m.core.groupGet(dev);
        if (g == null) {
            for (IommuGroup any : m.core.groups()) {
                if (any.defaultDomain() == d || any.blockingDomain() == d) {
                    g = any;
                }
            }
        }
        String shown = m.showDomain(d, g).name();
        return shown.equals(d.name()) ? shown : shown + " (" + d.name() + ")";
    }
}
