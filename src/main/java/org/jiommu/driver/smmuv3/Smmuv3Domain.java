package org.jiommu.driver.smmuv3;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * {@code struct arm_smmu_domain} of a paging domain: its stage, its ASID (stage 1) or VMID
 * (stage 2), its io-pgtable, and the masters it is attached to, per SubstreamID
 * ({@code devices}, guarded by {@link #devicesLock}, the kernel's {@code devices_lock}): every
 * invalidation fans out over that list, so a master is on it from before its STE / CD points at
 * the domain until after it no longer does.
 */
final class Smmuv3Domain extends IommuDomain {
    enum Stage { S1, S2 }

    /** One attachment: {@code struct arm_smmu_master_domain}. */
    record MasterDomain(Smmuv3Master master, int ssid) {
    }

    final Smmuv3Driver smmu;
    final Stage stage;
    /** Stage 1: the ASID; 0 once freed. */
    int asid;
    /** Stage 2: the VMID; 0 once freed. */
    int vmid;
    /** The io-pgtable, set once by finalise right after construction (its flush ops need the domain); null for SVA. */
    ArmLpaePageTable table;
    /** An SVA domain's process address space (its CDs point at {@code mm->pgd}); null for paging domains. */
    final MmStruct mm;
    /** An SVA domain's mmu notifier on {@link #mm} (arm_smmu_mmu_notifier_ops). */
    MmStruct.MmuNotifier notifier;
    final Object devicesLock = new Object();
    /** Guarded by {@link #devicesLock}. */
    final List<MasterDomain> devices = new ArrayList<>();
    /** The attachments that took an IOPF reference (master_domain->using_iopf). Guarded by {@link #devicesLock}. */
    final java.util.Set<MasterDomain> iopfUsers = new java.util.HashSet<>();
    /** nr_ats_masters: attachments of masters with ATS enabled. Guarded by {@link #devicesLock}. */
    int nrAtsMasters;

    Smmuv3Domain(DomainOps ops, Smmuv3Driver smmu, Stage stage) {
        this(ops, smmu, stage, null);
    }

    Smmuv3Domain(DomainOps ops, Smmuv3Driver smmu, Stage stage, MmStruct mm) {
        super(ops);
        this.smmu = smmu;
        this.stage = stage;
        this.mm = mm;
    }
}
