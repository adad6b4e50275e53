package org.jiommu.dma;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;

/**
 * The MSI side of an IOMMU DMA cookie ({@code dma-iommu.c}): an interrupt controller's doorbell
 * (a GICv3 ITS's GITS_TRANSLATER) is a physical address a device writes its MSIs to, so behind an
 * IOMMU it must be mapped in the device's domain, once per doorbell page
 * ({@code iommu_dma_get_msi_page}, the {@code msi_page_list}). On a DMA domain the page takes an
 * IOVA from the domain's own allocator with the device's DMA mask ({@code iommu_dma_alloc_iova}:
 * for a PCI device the first one top-down below 4 GiB), so the doorbell usually sits just above
 * the first {@code dma_map}; on an unmanaged domain with an MSI cookie ({@code
 * iommu_get_msi_cookie}, what VFIO sets up at the IOMMU_RESV_SW_MSI base the IOMMU driver
 * reports) pages take IOVAs one after another from that base. The mapping is write-only,
 * no-exec MMIO ({@code IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO}). {@code iommu_dma_compose_msi_msg}
 * is {@link #compose}: the device writes at the page's IOVA plus the doorbell's offset.
 *
 * <p>Thread-safe: the page list is guarded by this object's monitor ({@code msi_prepare_lock}).
 */
public final class MsiCookie {
    /** {@code struct iommu_dma_msi_page}: the doorbell page and the IOVA it is mapped at. */
    public record MsiPage(long phys, long iova) {
    }

    /** Where a DMA cookie's MSI pages get their IOVAs: the domain's allocator with the device's DMA mask. */
    interface IovaSource {
        /** An IOVA for {@code size} bytes, 0 when none is left. */
        long alloc(long size);

        void free(long iova, long size);
    }

    private final IommuDomain domain;
    private final long granule;
    /** A DMA cookie (IOVAs from the domain's allocator), or an MSI cookie (linear from the base). */
    private final boolean dma;
    /** An MSI cookie's next IOVA ({@code cookie->msi_iova}). Guarded by this. */
    private long msiIova;
    private final List<MsiPage> pages = new ArrayList<>();

    private MsiCookie(IommuDomain domain, long granule, boolean dma, long base) {
        this.domain = domain;
        this.granule = granule;
        this.dma = dma;
        this.msiIova = base;
    }

    /** The MSI pages of a DMA domain's cookie (granule: the IOVA domain's). */
    static MsiCookie forDma(IommuDomain domain, long granule) {
        return new MsiCookie(domain, granule, true, 0);
    }

    /**
     * {@code iommu_get_msi_cookie}: an unmanaged domain's MSI pages at IOVAs from {@code base}
     * up, one CPU page ({@code PAGE_SIZE}) each. -EINVAL for a domain that is not unmanaged,
     * -ENODEV when it already has a cookie; the domain's cookie type becomes DMA_MSI.
     */
    static MsiCookie forUnmanaged(IommuDomain domain, long base) {
        if (domain.type() != org.jiommu.core.spi.DomainType.UNMANAGED) {
            throw new IommuException(Errno.EINVAL, "iommu_get_msi_cookie: " + domain + " is not unmanaged");
        }
        if (domain.cookieType() != org.jiommu.core.spi.CookieType.NONE) {
            throw new IommuException(Errno.ENODEV, "iommu_get_msi_cookie: " + domain + " already has a "
                    + domain.cookieType() + " cookie");
        }
        domain.setCookieType(org.jiommu.core.spi.CookieType.DMA_MSI);
        return new MsiCookie(domain, 1L << 12, false, base);
    }

    /**
     * {@code iommu_dma_get_msi_page}: the page holding {@code msiAddr}, mapped on first use (a
     * second device or vector with the same doorbell reuses it); a DMA cookie's IOVA comes from
     * {@code iovas}. -ENOMEM when no IOVA is left or the map fails (the IOVA given back).
     */
    synchronized MsiPage getMsiPage(IommuCore core, long msiAddr, IovaSource iovas) {
        long phys = msiAddr & -granule;
        for (MsiPage p : pages) {
            if (p.phys() == phys) {
                return p;
            }
        }
        long iova;
        if (dma) {
            iova = iovas.alloc(granule);
        } else {
            iova = msiIova;
            msiIova += granule;
        }
        if (iova == 0) {
            throw new IommuException(Errno.ENOMEM, "iommu_dma_get_msi_page: no IOVA for the doorbell at "
                    + Long.toHexString(msiAddr));
        }
        try {
            core.map(domain, iova, phys, granule, Prot.WRITE | Prot.NOEXEC | Prot.MMIO);
        } catch (IommuException e) {
            if (dma) {
                iovas.free(iova, granule);
            } else {
                msiIova -= granule;
            }
            throw new IommuException(Errno.ENOMEM, "iommu_dma_get_msi_page: " + e.getMessage());
        }
        MsiPage p = new MsiPage(phys, iova);
        pages.add(p);
        return p;
    }

    /** {@code iommu_dma_compose_msi_msg}: the address the device writes its MSI to, in the page's IOVA. */
    public long compose(MsiPage p, long msiAddr) {
        return p.iova() | msiAddr & (granule - 1);
    }

    /** The doorbell pages mapped so far, in mapping order. */
    public synchronized List<MsiPage> pages() {
        return List.copyOf(pages);
    }
}
