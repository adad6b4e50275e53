package org.jiommu.core;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;

/** Test helper: a page request group left pending, for the I-IOPF-ONCE checks of core and checker tests. */
public final class PageRequests {
    private PageRequests() {
    }

    /**
     * Allocates a paging domain whose IOPF handler keeps the groups it gets without answering,
     * attaches it to {@code dev} at {@code pasid} and reports one last page request there.
     *
     * @return the pending group
     */
    public static IopfGroup pending(IommuCore core, Device dev, int pasid) {
        List<IopfGroup> held = new ArrayList<>();
        IommuDomain faulting = core.pagingDomainAlloc(dev);
        core.domainSetIopfHandler(faulting, g -> {
            held.add(g); // answered later by the test
            return 0;
        });
        core.attachDevicePasid(faulting, dev, pasid, new AttachHandle());
        core.reportDeviceFault(dev, IopfFault.withPasid(pasid, 1, true, IopfFault.PERM_READ, 0x1000));
        if (held.size() != 1) {
            throw new IllegalStateException("the handler got " + held + " for one page request");
        }
        return held.get(0);
    }
}
