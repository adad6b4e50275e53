package org.jiommu.driver.mock;

import java.util.LinkedHashSet;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.jiommu.pgtable.IoPageTable;

/**
 * A domain the mock allocated: a paging domain over a real page table, (from
 * {@code domain_alloc_identity}) a table-less identity domain, or (from {@code domain_alloc_sva})
 * an SVA domain sharing a process's page table. The driver-private part of the
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
    /** For an SVA domain: the address space whose page table it shares; else null. */
    final MmStruct mm;

    MockDomain(MockIommuDriver driver, DomainOps ops, int allocFlags) {
        this(driver, ops, allocFlags, null);
    }

    MockDomain(MockIommuDriver driver, DomainOps ops, int allocFlags, MmStruct mm) {
        super(ops);
        this.driver = driver;
        this.allocFlags = allocFlags;
        this.mm = mm;
    }

    /** The address space of an SVA domain, or null. */
    public MmStruct mm() {
        return mm;
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
