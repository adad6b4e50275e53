package org.jiommu.driver.vtd;

import java.util.EnumSet;
import java.util.TreeMap;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;

/**
 * What the driver keeps per probed device ({@code struct device_domain_info}): the unit behind
 * it, its requester ids, what its PCI capabilities allow, its PASID table (scalable mode) and
 * what its entries are programmed for. Everything mutable is guarded by the unit's
 * {@link VtdIommu#lock}.
 */
final class DeviceInfo {
    final Device dev;
    final PciDevice pdev;
    final VtdIommu iommu;
    /** The device's own requester id (bus << 8 | devfn): the SID of its device-TLB invalidations. */
    final int sid;
    /** Every requester id the unit may see for it ({@code pci_for_each_dma_alias}), own id first. */
    final int[] aliases;
    final boolean atsSupported;
    final boolean pasidSupported;
    final boolean priSupported;

    /** ATS Enable set by this driver. */
    boolean atsEnabled;

    // ---- scalable mode: the PASID directory (intel_pasid_alloc_table) ----
    long pasidDir;
    int pasidDirOrder;
    /** PASIDs the directory covers (pasid_table->max_pasid). */
    int maxPasid;
    int pdts;
    /** PASID-table pages by directory index. */
    final TreeMap<Integer, Long> pasidTables = new TreeMap<>();

    /**
     * What requests without PASID are translated by: a paging domain, the driver's identity or
     * blocked domain, or null before the first attach (nothing programmed: blocked).
     */
    IommuDomain ridDomain;
    /** Domains set on PASIDs other than RID_PASID (set_dev_pasid). */
    final TreeMap<Integer, IommuDomain> pasids = new TreeMap<>();
    /** Features the device's driver enabled (iommu_dev_enable_feature; S01). */
    final EnumSet<DevFeature> features = EnumSet.noneOf(DevFeature.class);
    /** The driver's iopf_refcount: IOPF-capable domains attached to the device. */
    int iopfRefcount;
    /** On the unit's IOPF queue with PRI enabled (iopf_refcount went 0 -> 1). Guarded by the unit's lock. */
    boolean iopfEnabled;

    DeviceInfo(PciDevice pdev, VtdIommu iommu, int[] aliases, boolean atsSupported, boolean pasidSupported,
               boolean priSupported) {
        this.dev = pdev;
        this.pdev = pdev;
        this.iommu = iommu;
        this.sid = pdev.requesterId();
        this.aliases = aliases;
        this.atsSupported = atsSupported;
        this.pasidSupported = pasidSupported;
        this.priSupported = priSupported;
    }

    boolean hasAlias(int rid) {
        for (int a : aliases) {
            if (a == rid) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return dev.name();
    }
}
