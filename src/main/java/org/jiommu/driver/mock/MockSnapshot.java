package org.jiommu.driver.mock;

import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;

/**
 * The mock driver's "hardware" and private state at one instant, comparable by value (domains
 * and devices by identity).
 *
 * @param probed devices the driver has probed and not released, in probe order
 * @param programmed what each device's RID entry points at (released devices keep their release
 *     state); an entry on a static BLOCKED domain is the hardware's reset state and is left out
 * @param pasids per device, what each PASID entry points at
 * @param iopfRefcount per device, the driver's IOPF reference count (S19)
 * @param liveDomains domains allocated and not freed, in allocation order
 * @param tables per live paging domain, its leaf descriptors
 */
public record MockSnapshot(List<Device> probed, Map<Device, IommuDomain> programmed,
                           Map<Device, Map<Integer, IommuDomain>> pasids, Map<Device, Integer> iopfRefcount,
                           List<IommuDomain> liveDomains, Map<IommuDomain, List<Leaf>> tables) {

    /** One leaf descriptor of a page table walk. */
    public record Leaf(long iova, long size, long pte) {
        @Override
        public String toString() {
            return String.format("%#x+%#x:%#x", iova, size, pte);
        }
    }
}
