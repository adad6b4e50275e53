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
    private final Tracer tracer;
    private final CoreRegistry registry;
    private final GroupLocks locks;
    private final AttachEngine attach;

    OwnershipEngine(Tracer tracer, CoreRegistry registry, GroupLocks locks, AttachEngine attach) {
        this.tracer = tracer;
        this.registry = registry;
        this.locks = locks;
        this.attach = attach;
    }

    /** {@code iommu_device_use_default_domain}. */
    void useDefaultDomain(Device dev) {
        Args.requireDevice(dev, "iommu_device_use_default_domain");
        IommuGroup group = registry.groupOf(dev);
        // no IOMMU (or released meanwhile): the DMA API works without one
        locks.whileMember(group, dev, () -> {
            if (group.defaultDomain == null) {
                throw Args.err(Errno.EPROBE_DEFER, group + " has no default domain yet");
            }
            // With no user at all nothing else is checked: a stray private domain does not stop
            // the first binder (documented kernel quirk, SEMANTICS.md 13 #61).
            if (group.ownerCnt != 0 && (group.domain != group.defaultDomain || group.owner != null
                    || !group.pasidArray.isEmpty())) {
                throw Args.err(Errno.EBUSY, group.describe() + " is "
                        + (group.owner != null ? "owned by " + group.owner
                        : group.domain != group.defaultDomain ? "attached to private domain " + group.domain
                        : "using PASIDs " + group.pasidArray.keySet()));
            }
            group.ownerCnt++;
        });
    }

    /** {@code iommu_device_unuse_default_domain}. */
    void unuseDefaultDomain(Device dev) {
        Args.requireDevice(dev, "iommu_device_unuse_default_domain");
        IommuGroup group = registry.groupOf(dev);
        locks.whileMember(group, dev, () -> {
            if (group.ownerCnt == 0 || !group.pasidArray.isEmpty()) {
                tracer.warn("iommu_device_unuse_default_domain", dev + ": " + group + (group.ownerCnt == 0
                        ? " has no DMA API user" : " still has PASIDs " + group.pasidArray.keySet()));
                return;
            }
            group.ownerCnt--;
        });
    }

    /** {@code __iommu_take_dma_ownership}: nothing changes unless the group reaches the blocking domain. */
    private void takeOwnership(IommuGroup group, Object owner) {
        if ((group.domain != null && group.domain != group.defaultDomain) || !group.pasidArray.isEmpty()) {
            throw Args.err(Errno.EBUSY, group.describe() + " is "
                    + (!group.pasidArray.isEmpty() ? "using PASIDs " + group.pasidArray.keySet()
                    : "attached to private domain " + group.domain));
        }
        attach.allocBlockingDomain(group);
        attach.setDomain(group, group.blockingDomain);
        group.owner = owner;
        group.ownerCnt++;
    }

    /** {@code __iommu_release_dma_ownership}. */
    private void releaseOwnership(IommuGroup group, String fn) {
        if (group.ownerCnt == 0 || group.owner == null || !group.pasidArray.isEmpty()) {
            tracer.warn(fn, group + (group.owner == null ? " is not owned"
                    : " still has PASIDs " + group.pasidArray.keySet()));
            return;
        }
        group.ownerCnt = 0;
        group.owner = null;
        attach.setDomainNofail(group, group.defaultDomain);
    }

    void groupClaim(IommuGroup group, Object owner) {
        if (owner == null) {
            tracer.warn("iommu_group_claim_dma_owner", "NULL owner for " + group);
            throw Args.err(Errno.EINVAL, "iommu_group_claim_dma_owner: owner token is null");
        }
        registry.requireGroup(group, "iommu_group_claim_dma_owner");
        locks.lock(group);
        try {
            Args.requireMembers(group, "iommu_group_claim_dma_owner");
            if (group.ownerCnt != 0) {
                throw Args.err(Errno.EPERM, group.describe() + " already has "
                        + (group.owner != null ? "owner " + group.owner : group.ownerCnt + " DMA API user(s)"));
            }
            takeOwnership(group, owner);
        } finally {
            group.mutex.unlock();
        }
    }

    void groupRelease(IommuGroup group) {
        registry.requireGroup(group, "iommu_group_release_dma_owner");
        locks.lock(group);
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
            tracer.warn("iommu_device_claim_dma_owner", "NULL owner for " + dev);
            throw Args.err(Errno.EINVAL, "iommu_device_claim_dma_owner: owner token is null");
        }
        Args.requireDevice(dev, "iommu_device_claim_dma_owner");
        IommuGroup group = registry.groupOf(dev);
        if (group == null) {
            throw Args.err(Errno.ENODEV, dev + " has no IOMMU group");
        }
        locks.whileMemberOrFail(group, dev, "", () -> {
            if (group.ownerCnt != 0) {
                if (group.owner != owner) {
                    throw Args.err(Errno.EPERM, group.describe() + " already has "
                            + (group.owner != null ? "owner " + group.owner : group.ownerCnt + " DMA API user(s)"));
                }
                group.ownerCnt++;
                return;
            }
            takeOwnership(group, owner);
        });
    }

    void deviceRelease(Device dev) {
        Args.requireDevice(dev, "iommu_device_release_dma_owner");
        IommuGroup group = registry.groupOf(dev);
        if (group == null) {
            tracer.warn("iommu_device_release_dma_owner", dev + " has no IOMMU group");
            return;
        }
        boolean member = locks.whileMember(group, dev, () -> {
            if (group.ownerCnt > 1) {
                group.ownerCnt--;
            } else {
                releaseOwnership(group, "iommu_device_release_dma_owner");
            }
        });
        if (!member) {
            tracer.warn("iommu_device_release_dma_owner", dev + " left " + group);
        }
    }

    boolean claimed(IommuGroup group) {
        registry.requireGroup(group, "iommu_group_dma_owner_claimed");
        locks.lock(group);
        try {
            return group.ownerCnt != 0;
        } finally {
            group.mutex.unlock();
        }
    }
}
