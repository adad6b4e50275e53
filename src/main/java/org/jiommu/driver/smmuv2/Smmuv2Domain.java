package org.jiommu.driver.smmuv2;

import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * {@code struct arm_smmu_domain} for a paging domain: the context bank and its io-pgtable are
 * set up on the first attach ({@code arm_smmu_init_domain_context}), not at allocation, because
 * only then is the SMMU known. Guarded by the driver's lock (the kernel's {@code init_mutex}).
 */
final class Smmuv2Domain extends IommuDomain {
    /** Context bank index, -1 before the first attach. */
    int cbndx = -1;
    /** ASID (stage 1): the bank index, as arm-smmu.c gives it. */
    int asid;
    ArmLpaePageTable table;

    Smmuv2Domain(DomainOps ops) {
        super(ops);
    }

    boolean hasContext() {
        return cbndx >= 0;
    }
}
