package org.jiommu.core.spi;

import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.mm.MmStruct;

/**
 * {@code struct iommu_ops} (SEMANTICS.md 2.6): one driver's table of optional callbacks and
 * static domains. Compared by identity: a domain's {@link IommuDomain#owner()} is the table that
 * allocated it, and the compatibility rule ({@code domain_iommu_ops_compatible}) compares tables.
 *
 * <p>Pointer-returning kernel ops ({@code ERR_PTR}) throw {@link org.jiommu.base.IommuException}
 * for an error pointer and return null for NULL; the core applies the kernel's reading of each
 * (e.g. a NULL paging domain means {@code -ENOMEM}, a NULL group is a driver bug).
 *
 * <p>Locking contract: {@code probe_device} and {@code device_group} run under the global probe
 * lock; {@code release_device} and every domain op run with the group mutex held;
 * {@code probe_finalize} runs with no core lock.
 */
public final class IommuOps {
    @FunctionalInterface
    public interface Capable {
        boolean capable(Device dev, IommuCap cap);
    }

    /** {@code domain_alloc_paging(dev)}. */
    @FunctionalInterface
    public interface DomainAllocPaging {
        IommuDomain domainAllocPaging(Device dev);
    }

    /** {@code domain_alloc_paging_flags(dev, flags, user_data)}: must throw, not return null, on error. */
    @FunctionalInterface
    public interface DomainAllocPagingFlags {
        IommuDomain domainAllocPagingFlags(Device dev, int flags);
    }

    /** {@code domain_alloc_identity(dev)} (v6.16+). */
    @FunctionalInterface
    public interface DomainAllocIdentity {
        IommuDomain domainAllocIdentity(Device dev);
    }

    /** {@code probe_device(dev)}: the instance translating {@code dev}; throws -ENODEV for "not mine". */
    @FunctionalInterface
    public interface ProbeDevice {
        IommuDevice probeDevice(Device dev);
    }

    @FunctionalInterface
    public interface ReleaseDevice {
        void releaseDevice(Device dev);
    }

    @FunctionalInterface
    public interface ProbeFinalize {
        void probeFinalize(Device dev);
    }

    /** {@code device_group(dev)}: a group reference from the core's helpers; null is a driver bug. */
    @FunctionalInterface
    public interface DeviceGroup {
        GroupRef deviceGroup(Device dev);
    }

    @FunctionalInterface
    public interface GetResvRegions {
        List<ResvRegion> getResvRegions(Device dev);
    }

    @FunctionalInterface
    public interface IsAttachDeferred {
        boolean isAttachDeferred(Device dev);
    }

    /** {@code def_domain_type(dev)}: IDENTITY, DMA, or null for no preference. */
    @FunctionalInterface
    public interface DefDomainType {
        DomainType defDomainType(Device dev);
    }

    /** {@code dev_has_feat(dev, feat)} (v5.2-v6.15): can the hardware behind {@code dev} do it. */
    @FunctionalInterface
    public interface DevHasFeat {
        boolean devHasFeat(Device dev, DevFeature feat);
    }

    /** {@code dev_feat_enabled(dev, feat)}. */
    @FunctionalInterface
    public interface DevFeatEnabled {
        boolean devFeatEnabled(Device dev, DevFeature feat);
    }

    /** {@code dev_enable_feat(dev, feat)} / {@code dev_disable_feat}: 0 or -errno. */
    @FunctionalInterface
    public interface DevSetFeat {
        int devSetFeat(Device dev, DevFeature feat);
    }

    /**
     * {@code domain_get_attr(domain, attr, data)} (≤v5.12 iommu_ops): the attribute's value;
     * throws {@link org.jiommu.base.IommuException} for the driver's error (-ENODEV: not this domain).
     */
    @FunctionalInterface
    public interface DomainGetAttr {
        long domainGetAttr(IommuDomain domain, DomainAttr attr);
    }

    /**
     * {@code domain_alloc_sva(dev, mm)}: an SVA domain sharing {@code mm}'s page table; the core
     * sets its type, cookie and fault handler. Throws for an error; null reads as -ENOMEM.
     */
    @FunctionalInterface
    public interface DomainAllocSva {
        IommuDomain domainAllocSva(Device dev, MmStruct mm);
    }

    /** {@code page_response(dev, evt, msg)}: deliver the answer to a page request group to the hardware. */
    @FunctionalInterface
    public interface PageResponseOp {
        void pageResponse(Device dev, IopfFault lastFault, PageResponse msg);
    }

    private final String name;
    private final Capable capable;
    private final DomainAllocPaging domainAllocPaging;
    private final DomainAllocPagingFlags domainAllocPagingFlags;
    private final DomainAllocIdentity domainAllocIdentity;
    private final ProbeDevice probeDevice;
    private final ReleaseDevice releaseDevice;
    private final ProbeFinalize probeFinalize;
    private final DeviceGroup deviceGroup;
    private final GetResvRegions getResvRegions;
    private final IsAttachDeferred isAttachDeferred;
    private final DefDomainType defDomainType;
    private final DomainOps defaultDomainOps;
    private final long pgsizeBitmap;
    private final IommuDomain identityDomain;
    private final IommuDomain blockedDomain;
    private final IommuDomain releaseDomain;
    private final IommuDomain defaultDomain;
    private final boolean userPasidTable;
    private final DevHasFeat devHasFeat;
    private final DevFeatEnabled devFeatEnabled;
    private final DevSetFeat devEnableFeat;
    private final DevSetFeat devDisableFeat;
    private final AuxOps auxOps;
    private final DomainGetAttr domainGetAttr;
    private final DomainAllocSva domainAllocSva;
    private final PageResponseOp pageResponse;

    private IommuOps(Builder b) {
        this.name = b.name;
        this.capable = b.capable;
        this.domainAllocPaging = b.domainAllocPaging;
        this.domainAllocPagingFlags = b.domainAllocPagingFlags;
        this.domainAllocIdentity = b.domainAllocIdentity;
        this.probeDevice = b.probeDevice;
        this.releaseDevice = b.releaseDevice;
        this.probeFinalize = b.probeFinalize;
        this.deviceGroup = b.deviceGroup;
        this.getResvRegions = b.getResvRegions;
        this.isAttachDeferred = b.isAttachDeferred;
        this.defDomainType = b.defDomainType;
        this.defaultDomainOps = b.defaultDomainOps;
        this.pgsizeBitmap = b.pgsizeBitmap;
        this.identityDomain = b.identityDomain;
        this.blockedDomain = b.blockedDomain;
        this.releaseDomain = b.releaseDomain;
        this.defaultDomain = b.defaultDomain;
        this.userPasidTable = b.userPasidTable;
        this.devHasFeat = b.devHasFeat;
        this.devFeatEnabled = b.devFeatEnabled;
        this.devEnableFeat = b.devEnableFeat;
        this.devDisableFeat = b.devDisableFeat;
        this.auxOps = b.auxOps;
        this.domainGetAttr = b.domainGetAttr;
        this.domainAllocSva = b.domainAllocSva;
        this.pageResponse = b.pageResponse;
    }

    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** The driver's name (the kernel's module owner), for traces. */
    public String name() {
        return name;
    }

    public Capable capable() {
        return capable;
    }

    public DomainAllocPaging domainAllocPaging() {
        return domainAllocPaging;
    }

    public DomainAllocPagingFlags domainAllocPagingFlags() {
        return domainAllocPagingFlags;
    }

    public DomainAllocIdentity domainAllocIdentity() {
        return domainAllocIdentity;
    }

    public ProbeDevice probeDevice() {
        return probeDevice;
    }

    public ReleaseDevice releaseDevice() {
        return releaseDevice;
    }

    public ProbeFinalize probeFinalize() {
        return probeFinalize;
    }

    public DeviceGroup deviceGroup() {
        return deviceGroup;
    }

    public GetResvRegions getResvRegions() {
        return getResvRegions;
    }

    public IsAttachDeferred isAttachDeferred() {
        return isAttachDeferred;
    }

    public DefDomainType defDomainType() {
        return defDomainType;
    }

    public DomainOps defaultDomainOps() {
        return defaultDomainOps;
    }

    /** Legacy default page sizes for domains whose driver left theirs unset. */
    public long pgsizeBitmap() {
        return pgsizeBitmap;
    }

    /** Static identity domain: lives as long as the driver, attach never fails. */
    public IommuDomain identityDomain() {
        return identityDomain;
    }

    /** Static blocking domain; its {@code set_dev_pasid} is how the core removes a PASID. */
    public IommuDomain blockedDomain() {
        return blockedDomain;
    }

    /** Static domain the core attaches just before {@code release_device}. */
    public IommuDomain releaseDomain() {
        return releaseDomain;
    }

    /** Legacy: if set, always the default domain (IDENTITY, BLOCKED or PLATFORM). */
    public IommuDomain defaultDomain() {
        return defaultDomain;
    }

    /** The PASID table is owned by a guest; PASID faults go to the RID's NESTED domain. */
    public boolean userPasidTable() {
        return userPasidTable;
    }

    public DevHasFeat devHasFeat() {
        return devHasFeat;
    }

    public DevFeatEnabled devFeatEnabled() {
        return devFeatEnabled;
    }

    public DevSetFeat devEnableFeat() {
        return devEnableFeat;
    }

    public DevSetFeat devDisableFeat() {
        return devDisableFeat;
    }

    /** The legacy aux-domain side of the driver (v5.2-v5.17), or null: the driver has no aux support. */
    public AuxOps auxOps() {
        return auxOps;
    }

    public DomainGetAttr domainGetAttr() {
        return domainGetAttr;
    }

    /** {@code page_response}; required by {@code iopf_queue_add_device}. */
    public PageResponseOp pageResponse() {
        return pageResponse;
    }

    /** {@code domain_alloc_sva}; null: the driver cannot do SVA (bind is -EOPNOTSUPP, v6.16+). */
    public DomainAllocSva domainAllocSva() {
        return domainAllocSva;
    }

    @Override
    public String toString() {
        return name;
    }

    /** Fills an {@link IommuOps}; unset callbacks stay null (not implemented). */
    public static final class Builder {
        private final String name;
        private Capable capable;
        private DomainAllocPaging domainAllocPaging;
        private DomainAllocPagingFlags domainAllocPagingFlags;
        private DomainAllocIdentity domainAllocIdentity;
        private ProbeDevice probeDevice;
        private ReleaseDevice releaseDevice;
        private ProbeFinalize probeFinalize;
        private DeviceGroup deviceGroup;
        private GetResvRegions getResvRegions;
        private IsAttachDeferred isAttachDeferred;
        private DefDomainType defDomainType;
        private DomainOps defaultDomainOps;
        private long pgsizeBitmap;
        private IommuDomain identityDomain;
        private IommuDomain blockedDomain;
        private IommuDomain releaseDomain;
        private IommuDomain defaultDomain;
        private boolean userPasidTable;
        private DevHasFeat devHasFeat;
        private DevFeatEnabled devFeatEnabled;
        private DevSetFeat devEnableFeat;
        private DevSetFeat devDisableFeat;
        private AuxOps auxOps;
        private DomainGetAttr domainGetAttr;
        private DomainAllocSva domainAllocSva;
        private PageResponseOp pageResponse;

        private Builder(String name) {
            if (name == null || name.isEmpty()) {
                throw new IllegalArgumentException("driver name must not be empty");
            }
            this.name = name;
        }

        public Builder capable(Capable op) {
            this.capable = op;
            return this;
        }

        public Builder domainAllocPaging(DomainAllocPaging op) {
            this.domainAllocPaging = op;
            return this;
        }

        public Builder domainAllocPagingFlags(DomainAllocPagingFlags op) {
            this.domainAllocPagingFlags = op;
            return this;
        }

        public Builder domainAllocIdentity(DomainAllocIdentity op) {
            this.domainAllocIdentity = op;
            return this;
        }

        public Builder probeDevice(ProbeDevice op) {
            this.probeDevice = op;
            return this;
        }

        public Builder releaseDevice(ReleaseDevice op) {
            this.releaseDevice = op;
            return this;
        }

        public Builder probeFinalize(ProbeFinalize op) {
            this.probeFinalize = op;
            return this;
        }

        public Builder deviceGroup(DeviceGroup op) {
            this.deviceGroup = op;
            return this;
        }

        public Builder getResvRegions(GetResvRegions op) {
            this.getResvRegions = op;
            return this;
        }

        public Builder isAttachDeferred(IsAttachDeferred op) {
            this.isAttachDeferred = op;
            return this;
        }

        public Builder defDomainType(DefDomainType op) {
            this.defDomainType = op;
            return this;
        }

        public Builder defaultDomainOps(DomainOps ops) {
            this.defaultDomainOps = ops;
            return this;
        }

        public Builder pgsizeBitmap(long bitmap) {
            this.pgsizeBitmap = bitmap;
            return this;
        }

        public Builder identityDomain(IommuDomain d) {
            this.identityDomain = checkStatic(d, "identity_domain");
            return this;
        }

        public Builder blockedDomain(IommuDomain d) {
            this.blockedDomain = checkStatic(d, "blocked_domain");
            return this;
        }

        public Builder releaseDomain(IommuDomain d) {
            this.releaseDomain = checkStatic(d, "release_domain");
            return this;
        }

        public Builder defaultDomain(IommuDomain d) {
            this.defaultDomain = checkStatic(d, "default_domain");
            return this;
        }

        public Builder userPasidTable(boolean v) {
            this.userPasidTable = v;
            return this;
        }

        public Builder devHasFeat(DevHasFeat op) {
            this.devHasFeat = op;
            return this;
        }

        public Builder devFeatEnabled(DevFeatEnabled op) {
            this.devFeatEnabled = op;
            return this;
        }

        public Builder devEnableFeat(DevSetFeat op) {
            this.devEnableFeat = op;
            return this;
        }

        public Builder devDisableFeat(DevSetFeat op) {
            this.devDisableFeat = op;
            return this;
        }

        public Builder auxOps(AuxOps ops) {
            this.auxOps = ops;
            return this;
        }

        public Builder domainGetAttr(DomainGetAttr op) {
            this.domainGetAttr = op;
            return this;
        }

        public Builder domainAllocSva(DomainAllocSva op) {
            this.domainAllocSva = op;
            return this;
        }

        public Builder pageResponse(PageResponseOp op) {
            this.pageResponse = op;
            return this;
        }

        private static IommuDomain checkStatic(IommuDomain d, String what) {
            if (d != null && !d.isStatic()) {
                throw new IllegalArgumentException(what + " " + d + " must be a static domain");
            }
            return d;
        }

        public IommuOps build() {
            if (probeDevice == null || deviceGroup == null) {
                throw new IllegalArgumentException("driver " + name + ": probe_device and device_group are required");
            }
            return new IommuOps(this);
        }
    }
}
