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
        ops.get("iommu_attach_device_pasid").run(PasidOps::attachDevicePasid);
        ops.get("iommu_detach_device_pasid").run(PasidOps::detachDevicePasid);
        ops.get("iommu_replace_device_pasid").run(PasidOps::replaceDevicePasid);
        ops.get("iommu_alloc_global_pasid").run(PasidOps::allocGlobalPasid);
        ops.get("iommu_free_global_pasid").run(PasidOps::freeGlobalPasid);
        ops.get("iommu_dev_has_feature").run(PasidOps::devHasFeature);
        ops.get("iommu_dev_feature_enabled").run(PasidOps::devFeatureEnabled);
        ops.get("iommu_dev_enable_feature").run(PasidOps::devEnableFeature);
        ops.get("iommu_dev_disable_feature").run(PasidOps::devDisableFeature);
        ops.get("iommu_aux_attach_device").run(PasidOps::auxAttachDevice);
        ops.get("iommu_aux_detach_device").run(PasidOps::auxDetachDevice);
        ops.get("iommu_aux_get_pasid").run(PasidOps::auxGetPasid);
        ops.get("iommu_domain_get_attr").run(PasidOps::domainGetAttr);
        ops.get("iommu_sva_bind_device").run(PasidOps::svaBindDevice);
        ops.get("iommu_sva_unbind_device").run(PasidOps::svaUnbindDevice);
        ops.get("mm_create").run(PasidOps::mmCreate);
        ops.get("mm_map").run(PasidOps::mmMap);
        ops.get("mm_mmap").run(PasidOps::mmMmap);
        ops.get("mm_translate").run(PasidOps::mmTranslate);
        ops.get("gpu_switch_ttbr0").run(PasidOps::gpuSwitchTtbr0);
        ops.get(OpCatalog.CHECK_OP).run(CheckOps::invariants);
        DmaOps.wire(ops);
    }
}
