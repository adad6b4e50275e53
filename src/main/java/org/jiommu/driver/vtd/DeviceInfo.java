package org.jiommu.driver.vtd;

import java.util.TreeMap;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.driver.common.MasterInfo;

/**
 * What the driver keeps per probed device ({@code struct device_domain_info}): the shared part
 * ({@link MasterInfo}: the unit, ATS/PASID/PRI, what its RID and PASIDs are programmed for, IOPF
 * state) plus VT-d's own: its requester ids and its PASID table (scalable mode). Everything
 * mutable is guarded by the unit's {@link VtdIommu#lock}.
 */
final class DeviceInfo extends MasterInfo<VtdIommu> {
    /** The device's own requester id (bus << 8 | devfn): the SID of its device-TLB invalidations. */
    final int sid;
    /** Every requester id the unit may see for it ({@code pci_for_each_dma_alias}), own id first. */
    final int[] aliases;
    /**
     * The aliases {@code pci_for_each_dma_alias} reports with the device itself as {@code pdev}
     * (its own id and quirk aliases, no bridge's): the ones scalable mode gives a context entry
     * ({@code dev == &pdev->dev} in pasid.c's {@code pci_pasid_table_setup} / {@code _teardown}).
     */
    final int[] ownAliases;

    // ---- scalable mode: the PASID directory (intel_pasid_alloc_table) ----
    long pasidDir;
    int pasidDirOrder;
    /** PASIDs the directory covers (pasid_table->max_pasid). */
    int maxPasid;
    int pdts;
    /** PASID-table pages by directory index. */
    final TreeMap<Integer, Long> pasidTables = new TreeMap<>();

    DeviceInfo(PciDevice pdev, VtdIommu iommu, int[] aliases, int[] ownAliases, boolean atsSupported,
               boolean pasidSupported, boolean priSupported) {
        super(pdev, iommu, atsSupported, pasidSupported, priSupported);
        this.sid = pdev.requesterId();
        this.aliases = aliases;
        this.ownAliases = ownAliases;
    }

    boolean hasAlias(int rid) {
        for (int a : aliases) {
            if (a == rid) {
                return true;
            }
        }
        return false;
    }
}
