package org.jiommu.driver.smmuv3;

import org.jiommu.bus.Device;
import org.jiommu.driver.common.MasterInfo;

/**
 * {@code struct arm_smmu_master}: the master's stream ids (from its fwspec), its SubstreamID
 * width, its CD table ({@code arm_smmu_ctx_desc_cfg}) and what the installed STE says (a CD-table
 * STE, EATS). ATS, the RID domain, PASID domains and features are the shared {@link MasterInfo}.
 * Guarded by the driver's lock (the kernel's group mutex and {@code arm_smmu_asid_lock}).
 */
final class Smmuv3Master extends MasterInfo<Smmuv3Driver> {
    /** Stream ids, in fwspec order (master->streams). */
    final int[] streams;
    /** master->ssid_bits: min(PCI PASID width, the SMMU's SSIDSIZE), capped for linear CD tables. */
    int ssidBits;
    /** The CD table, allocated on first need (arm_smmu_alloc_cd_tables); 0 before. */
    long cdtab;
    int s1fmt;
    int s1cdmax;
    /** 2-level CD tables: the leaf table of each L1 descriptor, 0 where none (l1_desc[i].l2ptr). */
    long[] cdLeaves;
    /** cd_table.used_ssids: valid CDs at SubstreamIDs other than 0. */
    int usedSsids;
    /** cd_table.in_ste: the installed STE is a CD-table (stage-1) STE. */
    boolean cdTableInSte;
    /** master->ste_ats_enabled: the installed STE has EATS = translate. */
    boolean steAtsEnabled;
    /** master->stall_enabled: the SMMU stalls and firmware says the master can (dma-can-stall). */
    boolean stallEnabled;

    Smmuv3Master(Device dev, Smmuv3Driver smmu, int[] streams, boolean ats, boolean pasid, boolean pri) {
        super(dev, smmu, ats, pasid, pri);
        this.streams = streams;
    }

    /** master->iopf_refcount, the shared count of {@link MasterInfo#iopfRefcount()}. */
    void iopfRef(int delta) {
        addIopfRef(delta);
    }
}
