package org.jiommu.dma;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;

/**
 * The DMA API's invariants, checked from outside the layer against the core's own view of the
 * page tables ({@code iommu_iova_to_phys}):
 * <ul>
 * <li>D1 no IOVA is handed out twice: live mappings of one domain never overlap;</li>
 * <li>D2 every live IOVA maps exactly what was passed: each page of each run translates to its
 *     physical page;</li>
 * <li>D3 a freed IOVA is unmapped: every range in the IOVA caches or waiting in a flush queue
 *     translates to nothing;</li>
 * <li>D4 allocator accounting: every range of the IOVA tree is live, cached, queued or
 *     reserved, and nothing is two of those (so with no mapping live and the queues drained,
 *     the allocator is back to its reserved baseline plus its caches).</li>
 * </ul>
 * Call it when no DMA API call is running.
 */
public final class DmaInvariants {
    private DmaInvariants() {
    }

    public static List<String> check(IommuCore core, DmaIommu dma) {
        List<String> out = new ArrayList<>();
        Map<IommuDomain, IovaDomain> iovads = dma.iovaDomains();
        Map<IommuDomain, FlushQueue> fqs = dma.flushQueues();
        Map<IommuDomain, TreeMap<Long, DmaIommu.Mapping>> live = new java.util.HashMap<>();
        for (DmaIommu.Mapping m : dma.liveMappings()) {
            live.computeIfAbsent(m.domain(), d -> new TreeMap<>()).put(m.iova(), m);
        }
        for (Map.Entry<IommuDomain, IovaDomain> e : iovads.entrySet()) {
            IommuDomain d = e.getKey();
            IovaDomain iovad = e.getValue();
            TreeMap<Long, DmaIommu.Mapping> mine = live.getOrDefault(d, new TreeMap<>());
            long end = Long.MIN_VALUE;
            for (DmaIommu.Mapping m : mine.values()) {
                if (m.iova() < end) {
                    out.add(String.format("D1: %s: IOVA %#x of %s overlaps another live mapping", d, m.iova(), m.dev()));
                }
                end = Math.max(end, m.iova() + m.size());
                for (long[] run : m.runs()) {
                    for (long off = 0; off < run[2]; off += iovad.granule()) {
                        long pa = core.iovaToPhys(d, run[0] + off);
                        if (pa != run[1] + off) {
                            out.add(String.format("D2: %s: IOVA %#x of %s translates to %#x, not %#x", d, run[0] + off,
                                    m.dev(), pa, run[1] + off));
                            break;
                        }
                    }
                }
            }
            Set<Long> freed = new HashSet<>(iovad.cachedPfns());
            FlushQueue fq = fqs.get(d);
            List<Long> queued = fq == null ? List.of() : fq.queuedPfns();
            for (long pfn : freed) {
                if (core.iovaToPhys(d, pfn << iovad.shift()) != 0) {
                    out.add(String.format("D3: %s: cached IOVA %#x is still mapped", d, pfn << iovad.shift()));
                }
            }
            for (long pfn : queued) {
                if (core.iovaToPhys(d, pfn << iovad.shift()) != 0) {
                    out.add(String.format("D3: %s: queued IOVA %#x is still mapped", d, pfn << iovad.shift()));
                }
            }
            for (IovaDomain.Iova n : iovad.ranges()) {
                long a = n.pfnLo() << iovad.shift();
                int uses = (mine.containsKey(a) ? 1 : 0) + (freed.contains(n.pfnLo()) ? 1 : 0)
                        + (queued.contains(n.pfnLo()) ? 1 : 0);
                if (uses > 1) {
                    out.add(String.format("D4: %s: IOVA %#x is %d of live, cached, queued at once", d, a, uses));
                } else if (uses == 0 && !iovad.isReserved(n.pfnLo())) {
                    out.add(String.format("D4: %s: IOVA range %s is allocated but neither live, cached, queued nor reserved",
                            d, n));
                }
            }
        }
        return out;
    }
}
