package org.jiommu.driver.mock;

import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.Geometry;

/**
 * The mock driver's build-time knobs (SEMANTICS.md 12 and 13's fixture): which static domains
 * exist, which allocation ops, page sizes, aperture, PASID width, grouping. Defaults are the
 * SEMANTICS.md 13 fixture: static blocked (with set_dev_pasid) and identity domains, blocked
 * release domain, paging domains with 4K|2M|1G, generic_device_group, 2^20 PASIDs.
 */
public record MockConfig(String name, boolean staticIdentity, boolean identityAllocOp, boolean staticBlocked,
                         boolean blockedSetDevPasid, ReleaseDomain releaseDomain, DomainType legacyDefaultDomain,
                         AllocOps allocOps, boolean pasidFlagSupported, long pgsizeBitmap, int ias,
                         Geometry aperture, int maxPasids, Grouping grouping, boolean syncMapOp) {

    /** What {@code ops.release_domain} is. */
    public enum ReleaseDomain {
        /** The static blocked domain itself (SMMUv3 since v6.19). */
        BLOCKED,
        /** The static identity domain. */
        IDENTITY,
        /** A separate static BLOCKED-typed domain with only attach_dev (the AMD shape). */
        SEPARATE,
        /** None: the driver parks the device itself in release_device. */
        NONE
    }

    /** Which paging allocation ops the driver has. */
    public enum AllocOps {
        /** {@code domain_alloc_paging} and {@code domain_alloc_paging_flags}. */
        BOTH,
        PAGING_ONLY,
        FLAGS_ONLY,
        NONE
    }

    /** What {@code device_group} does (per-device overrides: {@link MockIommuDriver#groupWith}). */
    public enum Grouping {
        /** {@code generic_device_group}: one group per device. */
        GENERIC,
        /** {@code generic_single_device_group}: one group per instance. */
        SINGLE,
        /** {@code pci_device_group}. */
        PCI
    }

    public MockConfig {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("mock name must not be empty");
        }
        if (releaseDomain == ReleaseDomain.BLOCKED && !staticBlocked
                || releaseDomain == ReleaseDomain.IDENTITY && !staticIdentity) {
            throw new IllegalArgumentException("release domain " + releaseDomain + " needs that static domain");
        }
        if (legacyDefaultDomain != null && legacyDefaultDomain != DomainType.IDENTITY
                && legacyDefaultDomain != DomainType.BLOCKED && legacyDefaultDomain != DomainType.PLATFORM) {
            throw new IllegalArgumentException("a legacy default domain is IDENTITY, BLOCKED or PLATFORM");
        }
        if (maxPasids < 0 || ias < 12 || ias > 48) {
            throw new IllegalArgumentException("bad PASID count or input address size");
        }
    }

    public static Builder builder(String name) {
        return new Builder(name);
    }

    public Builder toBuilder() {
        Builder b = new Builder(name);
        b.staticIdentity = staticIdentity;
        b.identityAllocOp = identityAllocOp;
        b.staticBlocked = staticBlocked;
        b.blockedSetDevPasid = blockedSetDevPasid;
        b.releaseDomain = releaseDomain;
        b.legacyDefaultDomain = legacyDefaultDomain;
        b.allocOps = allocOps;
        b.pasidFlagSupported = pasidFlagSupported;
        b.pgsizeBitmap = pgsizeBitmap;
        b.ias = ias;
        b.aperture = aperture;
        b.maxPasids = maxPasids;
        b.grouping = grouping;
        b.syncMapOp = syncMapOp;
        return b;
    }

    public static final class Builder {
        private final String name;
        private boolean staticIdentity = true;
        private boolean identityAllocOp;
        private boolean staticBlocked = true;
        private boolean blockedSetDevPasid = true;
        private ReleaseDomain releaseDomain = ReleaseDomain.BLOCKED;
        private DomainType legacyDefaultDomain;
        private AllocOps allocOps = AllocOps.BOTH;
        private boolean pasidFlagSupported = true;
        private long pgsizeBitmap = 0x1000L | 0x200000L | 0x40000000L;
        private int ias = 48;
        private Geometry aperture;
        private int maxPasids = 1 << 20;
        private Grouping grouping = Grouping.GENERIC;
        private boolean syncMapOp = true;

        private Builder(String name) {
            this.name = name;
        }

        public Builder staticIdentity(boolean v) {
            this.staticIdentity = v;
            return this;
        }

        /** A {@code domain_alloc_identity} op (used when there is no static identity domain). */
        public Builder identityAllocOp(boolean v) {
            this.identityAllocOp = v;
            return this;
        }

        public Builder staticBlocked(boolean v) {
            this.staticBlocked = v;
            return this;
        }

        public Builder blockedSetDevPasid(boolean v) {
            this.blockedSetDevPasid = v;
            return this;
        }

        public Builder releaseDomain(ReleaseDomain v) {
            this.releaseDomain = v;
            return this;
        }

        public Builder legacyDefaultDomain(DomainType v) {
            this.legacyDefaultDomain = v;
            return this;
        }

        public Builder allocOps(AllocOps v) {
            this.allocOps = v;
            return this;
        }

        /** false: {@code domain_alloc_paging_flags} answers -EOPNOTSUPP to IOMMU_HWPT_ALLOC_PASID. */
        public Builder pasidFlagSupported(boolean v) {
            this.pasidFlagSupported = v;
            return this;
        }

        public Builder pgsizeBitmap(long v) {
            this.pgsizeBitmap = v;
            return this;
        }

        public Builder ias(int v) {
            this.ias = v;
            return this;
        }

        /** Paging domains' aperture; default the page table's input range. */
        public Builder aperture(Geometry v) {
            this.aperture = v;
            return this;
        }

        public Builder maxPasids(int v) {
            this.maxPasids = v;
            return this;
        }

        public Builder grouping(Grouping v) {
            this.grouping = v;
            return this;
        }

        /** Whether domains have an {@code iotlb_sync_map} op. */
        public Builder syncMapOp(boolean v) {
            this.syncMapOp = v;
            return this;
        }

        public MockConfig build() {
            return new MockConfig(name, staticIdentity, identityAllocOp, staticBlocked, blockedSetDevPasid,
                    releaseDomain, legacyDefaultDomain, allocOps, pasidFlagSupported, pgsizeBitmap, ias, aperture,
                    maxPasids, grouping, syncMapOp);
        }
    }
}
