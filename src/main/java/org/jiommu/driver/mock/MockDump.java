package org.jiommu.driver.mock;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Text;

/**
 * {@code hw_dump} of a mock: the hardware stream table entry of every source ID of every device
 * behind it (abort, bypass, or translate from a table root), with the domain the driver
 * programmed it for, its PASID entries, and its paging domains' page tables walked from
 * simulated memory.
 */
final class MockDump {
    private MockDump() {
    }

    static String dump(String iommu, MockIommuDriver drv, List<Device> devs, IommuUnits.DomainLabels labels) {
        MockHardware hw = drv.hardware();
        MockSnapshot s = drv.snapshot();
        StringBuilder sb = new StringBuilder();
        sb.append("mock ").append(iommu).append(" stream table (source ID: entry  <- domain)\n");
        if (devs.isEmpty()) {
            sb.append("  (no devices)\n");
        }
        for (Device dev : devs) {
            List<Integer> sids = drv.sourceIds(dev);
            IommuDomain d = drv.programmed(dev);
            String domain = d == null ? "never programmed" : labels.label(dev, d);
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
                    sb.append(String.format("  %-8s  pasid %-6d <- %s%n", dev.name(), pasid, labels.label(dev, d)))));
        }
        sb.append("page tables (leaf descriptors: iova+size, pte)\n");
        if (s.tables().isEmpty()) {
            sb.append("  (no paging domains)\n");
        }
        for (Map.Entry<IommuDomain, List<MockSnapshot.Leaf>> e : s.tables().entrySet()) {
            List<MockSnapshot.Leaf> leaves = e.getValue();
            sb.append("  ").append(labels.label(null, e.getKey())).append(": ");
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
        return sb.toString().stripTrailing();
    }

    private static String entry(MockHardware.Entry e) {
        return switch (e.kind()) {
            case ABORT -> "ABORT";
            case BYPASS -> "BYPASS";
            case TRANSLATE -> "TRANSLATE root " + Text.format(e.root()) + " ias " + e.ias() + " granule "
                    + Text.formatSize(1L << e.granuleShift());
        };
    }

    /**
     * Leaves merged into runs of one page size whose output addresses and attributes continue
     * each other: {@code 0xe0000000+1MiB (256 x 4KiB, pte 0xe0000e43 ...)}.
     */
    private static List<String> runs(List<MockSnapshot.Leaf> leaves) {
        List<String> out = new ArrayList<>();
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
            out.add(Text.format(first.iova()) + "+" + Text.formatSize(n * first.size())
                    + (n == 1 ? " (" : " (" + n + " x ") + Text.formatSize(first.size())
                    + ", pte " + Text.format(first.pte()) + (n == 1 ? ")" : " ...)"));
            i = j;
        }
        return out;
    }
}
