package org.jiommu.scenario;

import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import org.jiommu.driver.vtd.VtdIommu;
import org.jiommu.bus.Device;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.driver.mock.MockHardware;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.driver.mock.MockSnapshot;

/** Ops that look at the hardware side: what an IOMMU would walk. */
final class HwOps {
    private HwOps() {
    }

    /**
     * hw_dump on a mock: the hardware stream table entry of every source ID of every device
     * behind it (abort, bypass, or translate from a table root), with the domain the driver
     * programmed it for, its PASID entries, and its paging domains' page tables walked from
     * simulated memory.
     */
    static Outcome hwDump(Machine m, StepArgs a) {
        VtdIommu unit = m.vtdUnit(a.word("iommu"));
        if (unit != null) {
            return new Outcome.Report(VtdDump.dump(m, unit));
        }
        MockIommuDriver drv = m.mock(a.word("iommu"));
        MockHardware hw = drv.hardware();
        MockSnapshot s = drv.snapshot();
        StringBuilder sb = new StringBuilder();
        sb.append("mock ").append(a.word("iommu")).append(" stream table (source ID: entry  <- domain)\n");
        List<Device> devs = m.devicesOn(a.word("iommu"));
        if (devs.isEmpty()) {
            sb.append("  (no devices)\n");
        }
        for (Device dev : devs) {
            List<Integer> sids = drv.sourceIds(dev);
            IommuDomain d = drv.programmed(dev);
            String domain = d == null ? "never programmed" : label(m, dev, d);
            if (sids.isEmpty()) {
                sb.append(String.format("  %-8s  (not probed)%n", dev.name()));
            }
            for (int sid : sids) {
                sb.append(String.format("  %-8s  %#06x: %-36s <- %s%n", dev.name(), sid, entry(hw.stream(sid)), domain));
            }
        }
        if (!s.pasids().isEmpty()) {
            sb.append("PASID entries\n");
            s.pasids().forEach((dev, byPasid) -> byPasid.forEach((pasid, d) ->
                    sb.append(String.format("  %-8s  pasid %-6d <- %s%n", dev.name(), pasid, label(m, dev, d)))));
        }
        sb.append("page tables (leaf descriptors: iova+size, pte)\n");
        if (s.tables().isEmpty()) {
            sb.append("  (no paging domains)\n");
        }
        for (Map.Entry<IommuDomain, List<MockSnapshot.Leaf>> e : s.tables().entrySet()) {
            List<MockSnapshot.Leaf> leaves = e.getValue();
            sb.append("  ").append(label(m, null, e.getKey())).append(": ");
            if (leaves.isEmpty()) {
                sb.append("empty");
            } else {
                List<String> runs = runs(leaves);
                int shown = Math.min(runs.size(), 6);
                sb.append(String.join(", ", runs.subList(0, shown)));
                if (runs.size() > shown) {
                    sb.append(", ... (").append(runs.size()).append(" runs)");
                }
            }
            sb.append('\n');
        }
        return new Outcome.Report(sb.toString().stripTrailing());
    }

    private static String entry(MockHardware.Entry e) {
        return switch (e.kind()) {
            case ABORT -> "ABORT";
            case BYPASS -> "BYPASS";
            case TRANSLATE -> "TRANSLATE root " + Numbers.format(e.root()) + " ias " + e.ias() + " granule "
                    + Numbers.formatSize(1L << e.granuleShift());
        };
    }

    /** stats: the hardware's translation and fault counters, and each device's DMA and ATC counters. */
    static Outcome stats(Machine m, StepArgs a) {
        StringBuilder sb = new StringBuilder();
        boolean iommuOnly = a.has("iommu");
        boolean devOnly = a.has("dev");
        for (Map.Entry<String, MockIommuDriver> e : m.mocks().entrySet()) {
            if ((iommuOnly && !e.getKey().equals(a.word("iommu"))) || (devOnly && !iommuOnly)) {
                continue;
            }
            MockHardware hw = e.getValue().hardware();
            sb.append(String.format("%s: %d translations, %d faults, %d descriptor reads (no IOTLB: every request walks)%n",
                    e.getKey(), hw.translations(), hw.faults(), hw.walkReads()));
        }
        for (Map.Entry<String, VtdIommu> e : m.vtdUnits().entrySet()) {
            if ((iommuOnly && !e.getKey().equals(a.word("iommu"))) || (devOnly && !iommuOnly)) {
                continue;
            }
            sb.append(vtdStats(e.getValue()));
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

    /**
     * A VT-d unit's counters (hw.HwStats): translations, each cache's hits and misses, page
     * walks, invalidation descriptors by type, and faults by reason, plus the fault log the
     * driver read from the fault recording registers.
     */
    private static String vtdStats(VtdIommu u) {
        SortedMap<String, Long> c = u.unit().stats().snapshot().asMap();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%s: %d translations (%d ATS translation requests, %d identity), %d walks, "
                        + "%d words read%n", u.name(), c.getOrDefault("translations", 0L),
                c.getOrDefault("translations.ats-requests", 0L), c.getOrDefault("translations.identity", 0L),
                c.getOrDefault("walks", 0L), c.getOrDefault("memory.words-read", 0L)));
        sb.append(String.format("  caches: IOTLB %d hits / %d misses, context cache %d / %d, PASID cache %d / %d%n",
                c.getOrDefault("iotlb.hits", 0L), c.getOrDefault("iotlb.misses", 0L),
                c.getOrDefault("context-cache.hits", 0L), c.getOrDefault("context-cache.misses", 0L),
                c.getOrDefault("pasid-cache.hits", 0L), c.getOrDefault("pasid-cache.misses", 0L)));
        sb.append("  invalidations: ").append(byPrefix(c, "inv.", "descriptors", "queue-errors")).append('\n');
        sb.append("  faults: ").append(byPrefix(c, "faults.", "", "")).append('\n');
        List<org.jiommu.driver.vtd.DmarFault> log = u.faults();
        for (int i = Math.max(0, log.size() - 4); i < log.size(); i++) {
            sb.append("  fault log: ").append(log.get(i)).append('\n');
        }
        return sb.toString();
    }

    /** The counters under {@code prefix}, "name n" joined, skipping two totals; "none" if empty. */
    private static String byPrefix(SortedMap<String, Long> c, String prefix, String skip1, String skip2) {
        List<String> parts = new java.util.ArrayList<>();
        for (Map.Entry<String, Long> e : c.entrySet()) {
            String k = e.getKey();
            if (k.startsWith(prefix) && e.getValue() != 0) {
                String n = k.substring(prefix.length());
                if (!n.equals(skip1) && !n.equals(skip2)) {
                    parts.add(n + " " + e.getValue());
                }
            }
        }
        return parts.isEmpty() ? "none" : String.join(", ", parts);
    }

    /**
     * Leaves merged into runs of one page size whose output addresses and attributes continue
     * each other: {@code 0xe0000000+1MiB (256 x 4KiB, pte 0xe0000e43 ...)}.
     */
    private static List<String> runs(List<MockSnapshot.Leaf> leaves) {
        List<String> out = new java.util.ArrayList<>();
        int i = 0;
        while (i < leaves.size()) {
            MockSnapshot.Leaf first = leaves.get(i);
            int j = i + 1;
            while (j < leaves.size()) {
                MockSnapshot.Leaf prev = leaves.get(j - 1);
                MockSnapshot.Leaf next = leaves.get(j);
                if (next.size() != first.size() || next.iova() != prev.iova() + prev.size()
                        || next.pte() - prev.pte() != prev.size()) {
                    break;
                }
                j++;
            }
            int n = j - i;
            out.add(Numbers.format(first.iova()) + "+" + Numbers.formatSize(n * first.size())
                    + (n == 1 ? " (" : " (" + n + " x ") + Numbers.formatSize(first.size())
                    + ", pte " + Numbers.format(first.pte()) + (n == 1 ? ")" : " ...)"));
            i = j;
        }
        return out;
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
