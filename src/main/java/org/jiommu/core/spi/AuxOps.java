package org.jiommu.core.spi;

import org.jiommu.base.Errno;
import org.jiommu.bus.Device;

/**
 * The driver side of the legacy aux-domain API (v5.2-v5.17 {@code aux_attach_dev},
 * {@code aux_detach_dev}, SEMANTICS.md 8.6), reduced to what differs between drivers; the core
 * builds the rest on the PASID machinery (docs/pasid-aux.md).
 *
 * @param refusal the errno for an aux attach the driver refuses because AUX is not enabled on the
 *     device or the domain is not an UNMANAGED paging domain: VT-d answers -EPERM
 *     ({@code intel_iommu_aux_attach_device}), the SMMU drivers -EINVAL (S03)
 * @param usesPasid true: an aux domain is installed at its default PASID with
 *     {@code set_dev_pasid} (VT-d scalable mode, SMMUv3 SSIDs); false: the IOMMU cannot switch
 *     per PASID and the aux domain only gets a page table the master switches to itself
 *     (SMMUv2 with a context-switching GPU, seed 002, S10)
 * @param attach table-only drivers: set the domain up as an aux domain of {@code dev} (0 / -errno);
 *     null for none
 * @param detach table-only drivers: the aux domain leaves {@code dev}; null for none
 */
public record AuxOps(Errno refusal, boolean usesPasid, AuxAttach attach, AuxDetach detach) {
    public AuxOps {
        if (refusal == null) {
            throw new IllegalArgumentException("an aux driver names its refusal errno");
        }
    }

    @FunctionalInterface
    public interface AuxAttach {
        int auxAttach(IommuDomain domain, Device dev);
    }

    @FunctionalInterface
    public interface AuxDetach {
        void auxDetach(IommuDomain domain, Device dev);
    }
}
