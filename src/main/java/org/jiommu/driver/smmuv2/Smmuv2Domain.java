package org.jiommu.driver.smmuv2;

import java.util.LinkedHashSet;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * {@code struct arm_smmu_domain} for a paging domain: the context bank and its io-pgtable are
 * set up on the first attach ({@code arm_smmu_init_domain_context}), not at allocation, because
 * only then is the SMMU known. An aux domain (the 2020 arm-smmu aux series,
 * {@code arm_smmu_aux_init_domain_context}) has no bank of its own: it copies its master's bank
 * and ASID and is only a page table. Guarded by the driver's lock (the kernel's
 * {@code init_mutex}).
 */
final class Smmuv2Domain extends IommuDomain {
    /** Context bank index (its own, or an aux domain's master's), -1 before the first attach. */
    int cbndx = -1;
    /** ASID (stage 1): the bank index, as arm-smmu.c gives it; an aux domain shares its master's. */
    int asid;
    ArmLpaePageTable table;
    /**
     * {@code IO_PGTABLE_QUIRK_ARM_TTBR1}: the table serves the upper half of the address space
     * (a context-switching master's own domain on a unit with split tables, S11).
     */
    boolean ttbr1;
    /** {@code smmu_domain->aux}: set up as a table of its master's bank; stays so until freed. */
    boolean aux;
    /** The masters this aux domain is aux-attached to. */
    final Set<Device> auxMasters = new LinkedHashSet<>();

    Smmuv2Domain(DomainOps ops) {
        super(ops);
    }

    boolean hasContext() {
        return cbndx >= 0;
    }

    /** A domain with a bank of its own (what S2CRs may point at), as opposed to an aux table. */
    boolean ownsBank() {
        return cbndx >= 0 && !aux;
    }
}
