package org.jiommu.driver.common;

import java.util.EnumSet;
import java.util.Set;
import java.util.TreeMap;
import org.jiommu.base.WarningSink;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;

/**
 * What a driver keeps per probed master, the part every driver shares (the kernel's
 * {@code dev_iommu_priv}: VT-d's {@code device_domain_info}, SMMUv3's {@code arm_smmu_master}):
 * the unit behind it, what its PCI capabilities allow (ATS, PASID, PRI), ATS and IOPF state, the
 * domains its RID and PASIDs are programmed for, and the features its driver enabled. A driver
 * extends it with its own tables (VT-d: the PASID directory; SMMUv3: the CD table).
 *
 * <p>Everything mutable is guarded by the unit's lock (the driver's, not this object's).
 *
 * @param <U> the driver's unit type (a VT-d DRHD, an SMMU)
 */
public abstract class MasterInfo<U> {
    public final Device dev;
    /** The PCI function, or null for a platform master. */
    public final PciDevice pdev;
    public final U iommu;
    public final boolean atsSupported;
    public final boolean pasidSupported;
    public final boolean priSupported;

    private boolean atsEnabled;
    private IommuDomain ridDomain;
    private final TreeMap<Integer, IommuDomain> pasids = new TreeMap<>();
    private final EnumSet<DevFeature> features = EnumSet.noneOf(DevFeature.class);
    private int iopfRefcount;
    private boolean iopfEnabled;

    protected MasterInfo(Device dev, U iommu, boolean atsSupported, boolean pasidSupported, boolean priSupported) {
        this.dev = dev;
        this.pdev = dev instanceof PciDevice ? (PciDevice) dev : null;
        this.iommu = iommu;
        this.atsSupported = atsSupported;
        this.pasidSupported = pasidSupported;
        this.priSupported = priSupported;
    }

    /** ATS Enable set by this driver. */
    public boolean atsEnabled() {
        return atsEnabled;
    }

    /**
     * {@code iommu_enable_pci_ats}: sets ATS Enable (smallest translation unit 4 KiB) on a master
     * that supports it; a failure is a WARN and the master goes on without ATS.
     */
    public void enableAts(WarningSink warnings) {
        if (atsEnabled || !atsSupported || pdev == null) {
            return;
        }
        int r = pdev.atsEnabled() ? 0 : pdev.enableAts(12);
        if (r == 0) {
            atsEnabled = true;
        } else {
            warnings.warn("iommu_enable_pci_ats", dev + ": Failed to enable ATS on device (" + r + ")");
        }
    }

    /** {@code iommu_disable_pci_ats}. */
    public void disableAts() {
        if (!atsEnabled) {
            return;
        }
        pdev.disableAts();
        atsEnabled = false;
    }

    /**
     * What requests without PASID are translated by: a paging domain, the driver's identity or
     * blocked domain, or null before the first attach (nothing programmed).
     */
    public IommuDomain ridDomain() {
        return ridDomain;
    }

    public void setRidDomain(IommuDomain d) {
        this.ridDomain = d;
    }

    /** Domains set on PASIDs other than the RID's (set_dev_pasid), by PASID; the live map. */
    public TreeMap<Integer, IommuDomain> pasids() {
        return pasids;
    }

    /** Features the device's driver enabled (iommu_dev_enable_feature; S01); the live set. */
    public Set<DevFeature> features() {
        return features;
    }

    /** The driver's {@code iopf_refcount}: IOPF-capable domains attached to the master. */
    public int iopfRefcount() {
        return iopfRefcount;
    }

    /** On the unit's IOPF queue with PRI (or stall) enabled: the refcount went 0 -> 1. */
    public boolean iopfEnabled() {
        return iopfEnabled;
    }

    public void setIopfEnabled(boolean v) {
        this.iopfEnabled = v;
    }

    protected void addIopfRef(int delta) {
        iopfRefcount += delta;
    }

    @Override
    public String toString() {
        return dev.name();
    }
}
