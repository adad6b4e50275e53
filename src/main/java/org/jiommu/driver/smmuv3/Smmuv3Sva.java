package org.jiommu.driver.smmuv3;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.Arm64PageTable;
import org.jiommu.mm.CpuFormat;
import org.jiommu.mm.MmStruct;

/**
 * SVA on the SMMUv3 ({@code arm-smmu-v3-sva.c} since v6.10, where an SVA domain is an
 * {@code arm_smmu_domain} with its own ASID): {@code arm_smmu_sva_domain_alloc} takes an ASID
 * from the SMMU's allocator and registers an mmu notifier on the mm; {@code set_dev_pasid}
 * writes {@code arm_smmu_make_sva_cd} (TTB0 = the mm's pgd, the CPU's T0SZ / TG0 / IPS /
 * MAIR_EL1, EPD1) through {@code arm_smmu_set_pasid}; the notifier turns every change of the
 * process's table into TLBI_NH_VA by the domain's ASID (or TLBI_NH_ASID past the range limit)
 * and ATC_INV of the attached masters ({@code arm_smmu_mm_arch_invalidate_secondary_tlbs}); the
 * free flushes the ASID and gives it back. The ASID is the SMMU's, not the CPU's, so broadcast
 * TLB maintenance (BTM) plays no part.
 */
final class Smmuv3Sva {
    /** CMDQ_MAX_TLBI_OPS: past 2^(PAGE_SHIFT - 3) pages, without range invalidation, flush the ASID. */
    static final long CMDQ_MAX_TLBI_OPS = 1L << (12 - 3);
    private static final long PAGE = 1L << 12;

    private final Smmuv3Driver drv;
    private final DomainOps ops;
    /** Live SVA domains (the agreement check finds their CDs by TTB0). */
    private final Set<Smmuv3Domain> live = ConcurrentHashMap.newKeySet();
    /** ARM_SMMU_FEAT_SVA: {@code arm_smmu_sva_supported} at probe. */
    final boolean supported;

    Smmuv3Sva(Smmuv3Driver drv) {
        this.drv = drv;
        this.ops = DomainOps.builder().setDevPasid(this::setDevPasid).free(this::free).build();
        this.supported = supported(drv);
    }

    /**
     * arm_smmu_sva_supported: a coherent SMMU walking the CPU's page size, with an output size
     * at least the CPU's physical address size and at least as many ASID bits as the CPU.
     */
    private static boolean supported(Smmuv3Driver d) {
        return d.coherent && (d.pgsizeBitmap & PAGE) != 0 && d.oas >= 48
                && d.asidBits >= Arm64PageTable.ASID_BITS;
    }

    /**
     * arm_smmu_sva_domain_alloc: -EOPNOTSUPP unless the SMMU has SVA and the master SubstreamIDs
     * (arm_smmu_master_sva_supported), and for an mm whose table is not in the AArch64 format
     * (jiommu only: a kernel's mm always is); -ENOMEM (fail_nth); -ENOSPC without a free ASID.
     */
    IommuDomain alloc(Device dev, MmStruct mm) {
        Smmuv3Master m = drv.master(dev);
        if (m == null) {
            throw new IommuException(Errno.ENODEV, dev + " is not a master of " + drv.name());
        }
        if (!supported || m.ssidBits == 0) {
            throw new IommuException(Errno.EOPNOTSUPP, drv.name() + ": no SVA for " + dev);
        }
        if (mm.format() != CpuFormat.ARM64) {
            throw new IommuException(Errno.EOPNOTSUPP, drv.name() + ": " + mm + " is not an AArch64 address space");
        }
        if (drv.core().shouldFailAlloc("arm_smmu_sva_domain_alloc")) {
            throw new IommuException(Errno.ENOMEM, drv.name() + ": no memory for an SVA domain");
        }
        Smmuv3Domain d = new Smmuv3Domain(ops, drv, Smmuv3Domain.Stage.S1, mm);
        d.setPgsizeBitmap(PAGE);
        d.asid = drv.allocAsid();
        if (d.asid < 0) {
            throw new IommuException(Errno.ENOSPC, drv.name() + ": no free ASID");
        }
        d.notifier = new MmStruct.MmuNotifier() {
            @Override
            public void invalidateSecondaryTlbs(MmStruct mm1, long start, long end) {
                Smmuv3Sva.this.invalidateSecondaryTlbs(d, start, end);
            }

            @Override
            public void release(MmStruct mm1) {
                Smmuv3Sva.this.release(d);
            }
        };
        mm.mmuNotifierRegister(d.notifier);
        live.add(d);
        return d;
    }

    /**
     * arm_smmu_sva_set_dev_pasid: an exited mm is -EINVAL (mmget_not_zero); the SVA CD at the
     * PASID through arm_smmu_set_pasid (same SMMU, SubstreamID within the master's width).
     */
    private int setDevPasid(IommuDomain domain, Device dev, int pasid, IommuDomain old) {
        Smmuv3Domain d = (Smmuv3Domain) domain;
        synchronized (drv) {
            Smmuv3Master m = drv.master(dev);
            if (m == null) {
                return Errno.ENODEV.neg();
            }
            if (d.smmu != drv || pasid <= 0 || pasid >= 1 << m.ssidBits) {
                return Errno.EINVAL.neg();
            }
            if (d.mm.exited()) {
                return Errno.EINVAL.neg();
            }
            return drv.attach().setPasid(m, d, pasid, svaCd(d, m));
        }
    }

    /** arm_smmu_make_sva_cd for a live mm: the CPU's TTBR0 settings, the domain's ASID, CD.S for a stalling master. */
    static long[] svaCd(Smmuv3Domain d, Smmuv3Master m) {
        return Smmuv3Entries.svaCd(d.asid, d.mm.pgd().root(), 64 - Arm64PageTable.VA_BITS, Arm64PageTable.PARANGE,
                Arm64PageTable.MAIR_EL1, m.stallEnabled);
    }

    /**
     * arm_smmu_mm_arch_invalidate_secondary_tlbs: {@code end} is exclusive. Without range
     * invalidation a span of CMDQ_MAX_TLBI_OPS pages or more becomes the whole ASID; otherwise
     * TLBI_NH_VA by the ASID, not leaf-only, at the page size; then the ATC of every master on
     * the domain's list for its SubstreamID, after the TLBI's CMD_SYNC.
     */
    private void invalidateSecondaryTlbs(Smmuv3Domain d, long start, long end) {
        long size = end - start;
        if (!drv.rangeInv && Long.compareUnsigned(size, CMDQ_MAX_TLBI_OPS * PAGE) >= 0 || size == -1L) {
            size = 0;
        }
        if (size == 0) {
            drv.flush().invContext(d);
        } else {
            drv.flush().invRangeDomain(d, start, size, PAGE, false);
        }
    }

    /**
     * arm_smmu_mm_release: DMA may still be running, so every CD of the domain stays valid (no
     * C_BAD_CD) but with TTB0 disabled (the quiet CD: EPD0, no fault records, same ASID, a hitless
     * update); then the ASID's TLB entries and the ATCs go.
     */
    private void release(Smmuv3Domain d) {
        synchronized (drv) {
            synchronized (d.devicesLock) {
                for (Smmuv3Domain.MasterDomain md : d.devices) {
                    Smmuv3Master m = md.master();
                    long ptr = drv.tables().allocCdPtr(m, md.ssid());
                    if (ptr == 0) {
                        drv.warnings().warn("arm_smmu_mm_release", m.dev + ": no CD at SSID " + md.ssid());
                        continue;
                    }
                    drv.tables().writeCd(m, md.ssid(), ptr, Smmuv3Entries.svaCd(d.asid, 0, 0,
                            Arm64PageTable.PARANGE, Arm64PageTable.MAIR_EL1, m.stallEnabled));
                }
            }
        }
        drv.flush().invAsid(d.asid);
        drv.flush().atcInvDomain(d, 0, 0);
    }

    /** A live SVA domain whose mm has exited with {@code asid} (its CDs are the quiet ones), or null. */
    Smmuv3Domain releasedDomainOfAsid(int asid) {
        for (Smmuv3Domain d : live) {
            if (d.asid == asid && d.mm.exited()) {
                return d;
            }
        }
        return null;
    }

    /**
     * arm_smmu_sva_domain_free: TLBI_NH_ASID (the ASID may be reused at once), the ASID given
     * back, the notifier put.
     */
    private void free(IommuDomain domain) {
        Smmuv3Domain d = (Smmuv3Domain) domain;
        drv.flush().invAsid(d.asid);
        drv.freeAsid(d.asid);
        d.mm.mmuNotifierUnregister(d.notifier);
        live.remove(d);
    }

    /** Whether {@code ttb} is the pgd of a live SVA domain of this SMMU (the hardware agreement, I7). */
    Smmuv3Domain domainOfRoot(long ttb) {
        for (Smmuv3Domain d : live) {
            if (d.mm.pgd().root() == ttb) {
                return d;
            }
        }
        return null;
    }
}
