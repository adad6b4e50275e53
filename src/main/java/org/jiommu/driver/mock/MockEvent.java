package org.jiommu.driver.mock;

import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;

/**
 * One call the core made into the mock driver, for tests that assert call sequences.
 *
 * @param seq order among this driver's events, from 1
 * @param op the op's kernel name ({@code attach_dev}, {@code map_pages}, ...)
 * @param domain the domain the op was called on, or null
 * @param dev the device, or null
 * @param old the {@code old} argument of attach_dev / set_dev_pasid
 * @param text the whole call, canonical: {@code attach_dev(D2, a, old=D1) = 0}
 * @param ret the return value (0, -errno, or bytes for unmap_pages)
 */
public record MockEvent(long seq, String op, IommuDomain domain, Device dev, IommuDomain old, String text, long ret) {
    @Override
    public String toString() {
        return text;
    }
}
