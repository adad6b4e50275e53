package org.jiommu.core;

import org.jiommu.base.Errno;
import org.jiommu.bus.Device;

/**
 * DMA ownership (SEMANTICS.md 7, the v5.19 design with the v6.2 device-level claim): the DMA API
 * (kernel drivers on the default domain, counted in {@code owner_cnt}) and an explicit owner
 * (VFIO group, iommufd context: {@code owner} plus the count of its claims) exclude each other
 * within a group (S14, S15). A claim moves the group to the blocking domain; the last release puts
 * the default domain back whatever the owner left attached. Misuse of the void calls is a WARN
 * that changes nothing (S16).
 */
final class OwnershipEngine {
    private final IommuCore core;

    OwnershipEngine(IommuCore core) {
        this.core = core;
    }

    /** {@code iommu_device_use_default_domain}. */
    void useDefaultDomain(Device dev) {
        IommuCore.requireDevice(dev, "iommu_device_use_default_domain");
        IommuGroup group = core.groupOf(dev);
        if (group == null || !core.lockMember(group, dev)) {
            return; // no IOMMU (or released meanwhile): the DMA API works without one
        }
        try {
            if (group.defaultDomain == null) {
                throw IommuCore.err(Errno.EPROBE_DEFER, group + " has no default domain yet");
            }
            // With no user at all nothing else is checked: a stray private domain does not stop
            // the first binder (documented kernel quirk, SEMANTICS.md 13 #61).
            if (group.ownerCnt != 0 && (group.domain != group.defaultDomain || group.owner != null
                    || !group.pasidArray.isEmpty())) {
                throw IommuCore.err(Errno.EBUSY, group.describe() + " is "
                        + (group.owner != null ? "owned by " + group.owner
                        : group.domain != group.defaultDomain ? "attached to private domain " + group.domain
                        : "using PASIDs " + group.pasidArray.keySet()));
            }
            group.ownerCnt++;
        } finally {
            group.mutex.unlock();
        }
    }

    /** {@code iommu_device_unuse_default_domain}. */
    void unuseDefaultDomain(Device dev) {
        IommuCore.requireDevice(dev, "iommu_device_unuse_default_domain");
        IommuGroup group = core.groupOf(dev);
        if (group == null || !core.lockMember(group, dev)) {
            return;
        }
        try {
            if (group.ownerCnt == 0 || !group.pasidArray.isEmpty()) {
                core.warn("iommu_device_unuse_default_domain", dev + ": " + group + (group.ownerCnt == 0
                        ? " has no DMA API user" : " still has PASIDs " + group.pasidArray.keySet()));
                return;
            }
            group.ownerCnt--;
        } finally {
            group.mutex.unlock();
        }
    }

    /** {@code __iommu_take_dma_ownership}: nothing changes unless the group reaches the blocking domain. */
    private void takeOwnership(IommuGroup group, Object owner) {
        if ((group.domain != null && group.domain != group.defaultDomain) || !group.pasidArray.isEmpty()) {
            throw IommuCore.err(Errno.EBUSY, group.describe() + " is "
                    + (!group.pasidArray.isEmpty() ? "using PASIDs " + group.pasidArray.keySet()
                    : "attached to private domain " + group.domain));
        }
        core.attach.allocBlockingDomain(group);
        core.attach.setDomain(group, group.blockingDomain);
        group.owner = owner;
        group.ownerCnt++;
    }

    /** {@code __iommu_release_dma_ownership}. */
    private void releaseOwnership(IommuGroup group, String fn) {
        if (group.ownerCnt == 0 || group.owner == null || !group.pasidArray.isEmpty()) {
            core.warn(fn, group + (group.owner == null ? " is not owned"
                    : " still has PASIDs " + group.pasidArray.keySet()));
            return;
        }
        group.ownerCnt = 0;
        group.owner = null;
        core.attach.setDomainNofail(group, group.defaultDomain);
    }

    void groupClaim(IommuGroup group, Object owner) {
        if (owner == null) {
            core.warn("iommu_group_claim_dma_owner", "NULL owner for " + group);
            throw IommuCore.err(Errno.EINVAL, "iommu_group_claim_dma_owner: owner token is null");
        }
        core.requireGroup(group, "iommu_group_claim_dma_owner");
        core.lock(group);
        try {
            IommuCore.requireMembers(group, "iommu_group_claim_dma_owner");
            if (group.ownerCnt != 0) {
                throw IommuCore.err(Errno.EPERM, group.describe() + " already has "
                        + (group.owner != null ? "owner " + group.owner : group.ownerCnt + " DMA API user(s)"));
            }
            takeOwnership(group, owner);
        } finally {
            group.mutex.unlock();
        }
    }

    void groupRelease(IommuGroup group) {
        core.requireGroup(group, "iommu_group_release_dma_owner");
        core.lock(group);
        try {
            if (group.devices.isEmpty()) {
                return;
            }
            releaseOwnership(group, "iommu_group_release_dma_owner");
        } finally {
            group.mutex.unlock();
        }
    }

    void deviceClaim(Device dev, Object owner) {
        if (owner == null) {
            core.warn("iommu_device_claim_dma_owner", "NULL owner for " + dev);
            throw IommuCore.err(Errno.EINVAL, "iommu_device_claim_dma_owner: owner token is null");
        }
        IommuCore.requireDevice(dev, "iommu_device_claim_dma_owner");
        IommuGroup group = core.groupOf(dev);
        if (group == null) {
            throw IommuCore.err(Errno.ENODEV, dev + " has no IOMMU group");
        }
        if (!core.lockMember(group, dev)) {
            throw IommuCore.err(Errno.ENODEV, dev + " left " + group);
        }
        try {
            if (group.ownerCnt != 0) {
                if (group.owner != owner) {
                    throw IommuCore.err(Errno.EPERM, group.describe() + " already has "
                            + (group.owner != null ? "owner " + group.owner : group.ownerCnt + " DMA API user(s)"));
                }
                group.ownerCnt++;
                return;
            }
            takeOwnership(group, owner);
        } finally {
            group.mutex.unlock();
        }
    }

    void deviceRelease(Device dev) {
        IommuCore.requireDevice(dev, "iommu_device_release_dma_owner");
        IommuGroup group = core.groupOf(dev);
        if (group == null) {
            core.warn("iommu_device_release_dma_owner", dev + " has no IOMMU group");
            return;
        }
        if (!core.lockMember(group, dev)) {
            core.warn("iommu_device_release_dma_owner", dev + " left " + group);
            return;
        }
        try {
            if (group.ownerCnt > 1) {
                group.ownerCnt--;
            } else {
                releaseOwnership(group, "iommu_device_release_dma_owner");
            }
        } finally {
            group.mutex.unlock();
        }
    }

    boolean claimed(IommuGroup group) {
        core.requireGroup(group, "iommu_group_dma_owner_claimed");
        core.lock(group);
        try {
            return group.ownerCnt != 0;
        } finally {
            group.mutex.unlock();
        }
    }
}
