package org.jiommu.check;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.core.spi.IommuDomain;

/**
 * What one public core call did, as its trace shows: name, arguments, outcome, the
 * {@code attach_dev} calls it made in order, whether it WARNed, and for {@code iommu_map} the
 * translation of its range before and after.
 *
 * @param function the kernel function ({@code iommu_attach_group})
 * @param args the argument texts
 * @param error the errno it failed with, or null on success
 * @param attaches the driver's {@code attach_dev} calls, in order
 * @param warned a kernel WARN was recorded during the call
 * @param map for map calls, the range samples; else null
 */
public record CallRecord(String function, List<String> args, Errno error, List<AttachCall> attaches, boolean warned,
                         MapProbe map) {

    public boolean ok() {
        return error == null;
    }

    @Override
    public String toString() {
        return function + "(" + String.join(", ", args) + ")" + (error == null ? "" : " = " + error);
    }

    /**
     * One {@code attach_dev} the core made.
     *
     * @param domain the domain (null if its name could not be resolved)
     * @param domainName its name as traced
     * @param device the device's name
     * @param ok the driver returned 0
     */
    public record AttachCall(IommuDomain domain, String domainName, String device, boolean ok) {
    }

    /**
     * Samples of {@code iova_to_phys} over a mapped range, taken before and after the call.
     *
     * @param domain the domain
     * @param iova start of the range
     * @param paddr physical start
     * @param size bytes
     * @param offsets offsets into the range that were sampled
     * @param before translations before the call
     * @param after translations after the call
     */
    public record MapProbe(IommuDomain domain, long iova, long paddr, long size, long[] offsets, long[] before,
                           long[] after) {
    }
}
