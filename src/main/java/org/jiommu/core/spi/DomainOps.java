package org.jiommu.core.spi;

import org.jiommu.bus.Device;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;

/**
 * {@code struct iommu_domain_ops} (SEMANTICS.md 2.7): a table of optional callbacks. A null
 * member is an op the driver does not implement, and the core's rules test exactly that
 * ({@code attach_dev} missing gives {@code -ENODEV}, a blocked domain without
 * {@code set_dev_pasid} makes PASID attach {@code -EOPNOTSUPP}, ...), so the table is kept as
 * nullable function members rather than an interface with defaults.
 *
 * <p>Int-returning ops use the kernel convention: 0 or a negative errno
 * ({@link org.jiommu.base.Errno#neg()}). A failing attach or set_dev_pasid must leave the device
 * in its previous configuration. Drivers are called with the group mutex held and must not call
 * back into the core for the current domain: it is handed to them as {@code old}.
 */
public final class DomainOps {
    /** An empty table (every op missing). */
    public static final DomainOps NONE = builder().build();

    /** {@code attach_dev(domain, dev, old)}; {@code old} is null on first attach/probe and deferred attach. */
    @FunctionalInterface
    public interface AttachDev {
        int attachDev(IommuDomain domain, Device dev, IommuDomain old);
    }

    /** {@code set_dev_pasid(domain, dev, pasid, old)}; the blocked domain's removes a PASID. */
    @FunctionalInterface
    public interface SetDevPasid {
        int setDevPasid(IommuDomain domain, Device dev, int pasid, IommuDomain old);
    }

    /** {@code map_pages}: may map partially; adds the bytes mapped to {@code mapped} even on error. */
    @FunctionalInterface
    public interface MapPages {
        int mapPages(IommuDomain domain, long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped);
    }

    /** {@code unmap_pages}: returns the bytes unmapped, 0 for nothing mapped here. */
    @FunctionalInterface
    public interface UnmapPages {
        long unmapPages(IommuDomain domain, long iova, long pgsize, long pgcount, IotlbGather gather);
    }

    /**
     * {@code pt->ops->map_range} of a generic_pt domain ({@code domain->is_iommupt}): maps the
     * whole range in one call, picking leaf sizes itself; adds the bytes mapped to {@code mapped}
     * even on error. A domain with this op is mapped through it by {@code iommu_map}, with no
     * page-size split or alignment check of the core's.
     */
    @FunctionalInterface
    public interface MapRange {
        int mapRange(IommuDomain domain, long iova, long paddr, long len, int prot, Mapped mapped);
    }

    /** {@code pt->ops->unmap_range}: the bytes unmapped from {@code iova} on, stopping at the first hole. */
    @FunctionalInterface
    public interface UnmapRange {
        long unmapRange(IommuDomain domain, long iova, long len, IotlbGather gather);
    }

    /** {@code iotlb_sync_map}: make new mappings visible; 0 or -errno. */
    @FunctionalInterface
    public interface IotlbSyncMap {
        int iotlbSyncMap(IommuDomain domain, long iova, long size);
    }

    /** {@code iotlb_sync}: invalidate what the gather collected. */
    @FunctionalInterface
    public interface IotlbSync {
        void iotlbSync(IommuDomain domain, IotlbGather gather);
    }

    /** {@code flush_iotlb_all}. */
    @FunctionalInterface
    public interface FlushIotlbAll {
        void flushIotlbAll(IommuDomain domain);
    }

    /** {@code iova_to_phys}: 0 when not mapped. */
    @FunctionalInterface
    public interface IovaToPhys {
        long iovaToPhys(IommuDomain domain, long iova);
    }

    /** {@code free}. */
    @FunctionalInterface
    public interface Free {
        void free(IommuDomain domain);
    }

    private final AttachDev attachDev;
    private final SetDevPasid setDevPasid;
    private final MapPages mapPages;
    private final UnmapPages unmapPages;
    private final MapRange mapRange;
    private final UnmapRange unmapRange;
    private final IotlbSyncMap iotlbSyncMap;
    private final IotlbSync iotlbSync;
    private final FlushIotlbAll flushIotlbAll;
    private final IovaToPhys iovaToPhys;
    private final Free free;

    private DomainOps(Builder b) {
        this.attachDev = b.attachDev;
        this.setDevPasid = b.setDevPasid;
        this.mapPages = b.mapPages;
        this.unmapPages = b.unmapPages;
        this.mapRange = b.mapRange;
        this.unmapRange = b.unmapRange;
        this.iotlbSyncMap = b.iotlbSyncMap;
        this.iotlbSync = b.iotlbSync;
        this.flushIotlbAll = b.flushIotlbAll;
        this.iovaToPhys = b.iovaToPhys;
        this.free = b.free;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from this table (to derive a variant with one op changed). */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.attachDev = attachDev;
        b.setDevPasid = setDevPasid;
        b.mapPages = mapPages;
        b.unmapPages = unmapPages;
        b.mapRange = mapRange;
        b.unmapRange = unmapRange;
        b.iotlbSyncMap = iotlbSyncMap;
        b.iotlbSync = iotlbSync;
        b.flushIotlbAll = flushIotlbAll;
        b.iovaToPhys = iovaToPhys;
        b.free = free;
        return b;
    }

    public AttachDev attachDev() {
        return attachDev;
    }

    public SetDevPasid setDevPasid() {
        return setDevPasid;
    }

    public MapPages mapPages() {
        return mapPages;
    }

    public UnmapPages unmapPages() {
        return unmapPages;
    }

    public MapRange mapRange() {
        return mapRange;
    }

    public UnmapRange unmapRange() {
        return unmapRange;
    }

    /** True for a generic_pt domain's table ({@code iommupt_from_domain} != NULL): both range ops set. */
    public boolean isIommupt() {
        return mapRange != null && unmapRange != null;
    }

    public IotlbSyncMap iotlbSyncMap() {
        return iotlbSyncMap;
    }

    public IotlbSync iotlbSync() {
        return iotlbSync;
    }

    public FlushIotlbAll flushIotlbAll() {
        return flushIotlbAll;
    }

    public IovaToPhys iovaToPhys() {
        return iovaToPhys;
    }

    public Free free() {
        return free;
    }

    /** Fills a {@link DomainOps}; unset members stay null (not implemented). */
    public static final class Builder {
        private AttachDev attachDev;
        private SetDevPasid setDevPasid;
        private MapPages mapPages;
        private UnmapPages unmapPages;
        private MapRange mapRange;
        private UnmapRange unmapRange;
        private IotlbSyncMap iotlbSyncMap;
        private IotlbSync iotlbSync;
        private FlushIotlbAll flushIotlbAll;
        private IovaToPhys iovaToPhys;
        private Free free;

        private Builder() {
        }

        public Builder attachDev(AttachDev op) {
            this.attachDev = op;
            return this;
        }

        public Builder setDevPasid(SetDevPasid op) {
            this.setDevPasid = op;
            return this;
        }

        public Builder mapPages(MapPages op) {
            this.mapPages = op;
            return this;
        }

        public Builder unmapPages(UnmapPages op) {
            this.unmapPages = op;
            return this;
        }

        /** The generic_pt range ops ({@code IOMMU_PT_DOMAIN_OPS}): set both, or neither. */
        public Builder pageTableRange(MapRange map, UnmapRange unmap) {
            this.mapRange = map;
            this.unmapRange = unmap;
            return this;
        }

        public Builder iotlbSyncMap(IotlbSyncMap op) {
            this.iotlbSyncMap = op;
            return this;
        }

        public Builder iotlbSync(IotlbSync op) {
            this.iotlbSync = op;
            return this;
        }

        public Builder flushIotlbAll(FlushIotlbAll op) {
            this.flushIotlbAll = op;
            return this;
        }

        public Builder iovaToPhys(IovaToPhys op) {
            this.iovaToPhys = op;
            return this;
        }

        public Builder free(Free op) {
            this.free = op;
            return this;
        }

        public DomainOps build() {
            return new DomainOps(this);
        }
    }
}
