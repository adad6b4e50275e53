package org.jiommu.driver.mock;

import java.util.LinkedHashSet;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.pgtable.IoPageTable;

/**
 * A domain the mock allocated: a paging domain over a real page table, or (from
 * {@code domain_alloc_identity}) a table-less identity domain. The driver-private part of the
 * kernel's {@code struct mock_iommu_domain}.
 */
public final class MockDomain extends IommuDomain {
    private final MockIommuDriver driver;
    /** Null for an allocated identity domain. */
    volatile IoPageTable pgtable;
    /** The domain carries an IOPF handler: attaching it takes an IOPF reference on the device. */
    volatile boolean iopfCapable;
    /** Flags it was allocated with ({@code IOMMU_HWPT_ALLOC_*}). */
    final int allocFlags;
    /** Devices whose RID entry points here (the driver's devices list). Guarded by the driver. */
    final Set<Device> attached = new LinkedHashSet<>();
    volatile boolean freedByDriver;

    MockDomain(MockIommuDriver driver, DomainOps ops, int allocFlags) {
        super(ops);
        this.driver = driver;
        this.allocFlags = allocFlags;
    }

    public MockIommuDriver driver() {
        return driver;
    }

    /** The page table, or null for a table-less (identity) domain. */
    public IoPageTable pgtable() {
        return pgtable;
    }

    public int allocFlags() {
        return allocFlags;
    }

    public boolean iopfCapable() {
        return iopfCapable;
    }

    /** Gives the domain an IOPF handler (the driver then counts IOPF users per device, S19). */
    public void setIopfCapable(boolean v) {
        this.iopfCapable = v;
    }
}
