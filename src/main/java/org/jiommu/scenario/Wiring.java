package org.jiommu.scenario;

import java.util.Map;

/**
 * Which ops run against which part of the model: one line per wired op. Ops absent here are
 * "not implemented yet" (their layer does not exist in the model).
 */
final class Wiring {
    private Wiring() {
    }

    static void wire(Map<String, OpSpec> ops) {
        ops.get("iommu_paging_domain_alloc").run(CoreOps::pagingDomainAlloc);
        ops.get("iommu_domain_free").run(CoreOps::domainFree);
        ops.get("iommu_attach_device").run(CoreOps::attachDevice);
        ops.get("iommu_detach_device").run(CoreOps::detachDevice);
        ops.get("iommu_attach_group").run(CoreOps::attachGroup);
        ops.get("iommu_detach_group").run(CoreOps::detachGroup);
        ops.get("iommu_group_replace_domain").run(CoreOps::groupReplaceDomain);
        ops.get("iommu_device_use_default_domain").run(CoreOps::deviceUseDefaultDomain);
        ops.get("iommu_device_unuse_default_domain").run(CoreOps::deviceUnuseDefaultDomain);
        ops.get("iommu_group_claim_dma_owner").run(CoreOps::groupClaimDmaOwner);
        ops.get("iommu_group_release_dma_owner").run(CoreOps::groupReleaseDmaOwner);
        ops.get("iommu_device_claim_dma_owner").run(CoreOps::deviceClaimDmaOwner);
        ops.get("iommu_device_release_dma_owner").run(CoreOps::deviceReleaseDmaOwner);
        ops.get("iommu_group_dma_owner_claimed").run(CoreOps::groupDmaOwnerClaimed);
        ops.get("iommu_get_domain_for_dev").run(CoreOps::getDomainForDev);
        ops.get("iommu_group_id").run(CoreOps::groupId);
        ops.get("iommu_map").run(CoreOps::map);
        ops.get("iommu_unmap").run(CoreOps::unmap);
        ops.get("iommu_iova_to_phys").run(CoreOps::iovaToPhys);
        ops.get("iommu_flush_iotlb_all").run(CoreOps::flushIotlbAll);
        ops.get("device_add").run(PlatformOps::deviceAdd);
        ops.get("device_del").run(PlatformOps::deviceDel);
        ops.get("driver_bind").run(PlatformOps::driverBind);
        ops.get("driver_unbind").run(PlatformOps::driverUnbind);
        ops.get("mem_write").run(PlatformOps::memWrite);
        ops.get("hw_dump").run(HwOps::hwDump);
        ops.get("stats").run(HwOps::stats);
        ops.get("dma").run(PlatformOps::dma);
        ops.get("mem_read").run(PlatformOps::memRead);
    }
}
