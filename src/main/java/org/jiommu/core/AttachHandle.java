package org.jiommu.core;

import org.jiommu.core.spi.IommuDomain;

/**
 * {@code struct iommu_attach_handle}: what a user (iommufd, SVA) stores with an attachment in the
 * group's PASID array. Users extend it; the core writes {@link #domain()} when it stores the
 * handle. Compared by identity.
 */
public class AttachHandle {
    private volatile IommuDomain domain;

    /** The domain the handle was stored with; null until stored. */
    public final IommuDomain domain() {
        return domain;
    }

    final void setDomain(IommuDomain d) {
        this.domain = d;
    }

    @Override
    public String toString() {
        return "handle@" + Integer.toHexString(System.identityHashCode(this)) + "(" + domain + ")";
    }
}
