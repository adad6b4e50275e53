package org.jiommu.core;

import org.jiommu.core.spi.IommuDomain;

/**
 * One slot of a group's {@code pasid_array} (SEMANTICS.md 2.4, v6.15+ tagged entries): a reserved
 * placeholder (only inside a locked operation), a bare domain, or a handle carrying its domain.
 * Slot 0 ({@code IOMMU_NO_PASID}) is written only by the group-handle APIs.
 */
public sealed interface PasidEntry permits PasidEntry.Reserved, PasidEntry.DomainEntry, PasidEntry.HandleEntry {
    /** The domain the slot names; null for a reservation. */
    IommuDomain domain();

    /** {@code XA_ZERO_ENTRY}: reserved, not yet visible to lookups. */
    enum Reserved implements PasidEntry {
        INSTANCE;

        @Override
        public IommuDomain domain() {
            return null;
        }

        @Override
        public String toString() {
            return "reserved";
        }
    }

    /** {@code IOMMU_PASID_ARRAY_DOMAIN}: attached without a handle. */
    record DomainEntry(IommuDomain domain) implements PasidEntry {
        @Override
        public String toString() {
            return domain.toString();
        }
    }

    /** {@code IOMMU_PASID_ARRAY_HANDLE}: attached with a handle whose domain is set. */
    record HandleEntry(AttachHandle handle) implements PasidEntry {
        @Override
        public IommuDomain domain() {
            return handle.domain();
        }

        @Override
        public String toString() {
            return handle.toString();
        }
    }
}
