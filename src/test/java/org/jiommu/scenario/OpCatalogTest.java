package org.jiommu.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class OpCatalogTest {
    /** The ops and argument names of SCENARIOS.md "Ops", in its order: the contract. */
    static final Map<String, List<String>> CONTRACT = new LinkedHashMap<>();

    static {
        c("iommu_paging_domain_alloc", "dev");
        c("iommu_domain_free", "domain");
        c("iommu_sva_bind_device", "dev", "mm");
        c("iommu_sva_unbind_device", "handle");
        c("iommu_attach_device", "domain", "dev");
        c("iommu_detach_device", "domain", "dev");
        c("iommu_attach_group", "domain", "group");
        c("iommu_detach_group", "domain", "group");
        c("iommu_group_replace_domain", "group", "domain");
        c("iommu_attach_device_pasid", "domain", "dev", "pasid");
        c("iommu_detach_device_pasid", "domain", "dev", "pasid");
        c("iommu_replace_device_pasid", "domain", "dev", "pasid");
        c("iommu_alloc_global_pasid", "dev");
        c("iommu_free_global_pasid", "pasid");
        c("iommu_dev_has_feature", "dev", "feature");
        c("iommu_dev_feature_enabled", "dev", "feature");
        c("iommu_dev_enable_feature", "dev", "feature");
        c("iommu_dev_disable_feature", "dev", "feature");
        c("iommu_aux_attach_device", "domain", "dev");
        c("iommu_aux_detach_device", "domain", "dev");
        c("iommu_aux_get_pasid", "domain", "dev");
        c("iommu_domain_get_attr", "domain", "attr");
        c("iommu_device_use_default_domain", "dev");
        c("iommu_device_unuse_default_domain", "dev");
        c("iommu_group_claim_dma_owner", "group", "owner");
        c("iommu_group_release_dma_owner", "group");
        c("iommu_device_claim_dma_owner", "dev", "owner");
        c("iommu_device_release_dma_owner", "dev");
        c("iommu_group_dma_owner_claimed", "group");
        c("iommu_get_domain_for_dev", "dev");
        c("iommu_group_id", "dev");
        c("iommu_map", "domain", "iova", "paddr", "size", "prot");
        c("iommu_unmap", "domain", "iova", "size");
        c("iommu_iova_to_phys", "domain", "iova");
        c("iommu_flush_iotlb_all", "domain");
        c("device_add", "device");
        c("device_del", "dev");
        c("driver_bind", "dev", "driver");
        c("driver_unbind", "dev");
        c("dma", "dev", "pasid", "iova", "read", "write", "data");
        c("mem_write", "paddr", "data");
        c("mem_read", "paddr", "size");
        c("gpu_switch_ttbr0", "dev", "ttbr0");
        c("mm_create", "name");
        c("mm_map", "mm", "va", "paddr", "size", "prot");
        // additions (issue 11, docs/scenarios.md): demand-paged VMAs for stalled SVA faults
        c("mm_mmap", "mm", "va", "size", "prot");
        c("mm_translate", "mm", "va");
        c("hw_dump", "iommu");
        c("stats", "iommu", "dev");
        // The DMA API (issue 15): dma_map_single / dma_unmap_single of SCENARIOS.md and the ops
        // the issue adds; docs/scenarios.md lists them.
        c("iommu_group_store_type", "group", "type");
        c("dma_set_mask", "dev", "mask");
        c("dma_map_single", "dev", "paddr", "size", "dir");
        c("dma_unmap_single", "dev", "iova", "size", "dir");
        c("dma_map_sg", "dev", "paddr", "size", "count", "stride", "dir");
        c("dma_unmap_sg", "dev", "iova", "dir");
        c("dma_alloc_coherent", "dev", "size");
        c("dma_free_coherent", "dev", "iova", "size");
        c("dma_sync_single_for_cpu", "dev", "iova", "size", "dir");
        c("dma_sync_single_for_device", "dev", "iova", "size", "dir");
        c("dma_fq_flush", "dev");
        // additions (issue 11, docs/scenarios.md): MSI doorbells
        c("dma_prepare_msi", "dev", "addr");
        c("iommu_get_msi_cookie", "domain", "base");
        c("time_advance", "ms");
        c("check", "what");
        // an addition to SCENARIOS.md (docs/scenarios.md): the first step of a stress run's reproducing scenario
        c("plant", "name");
    }

    private static void c(String op, String... args) {
        CONTRACT.put(op, List.of(args));
    }

    @Test
    @DisplayName("the catalogue holds exactly the ops of SCENARIOS.md with their argument names")
    void matchesContract() {
        Map<String, List<String>> actual = new LinkedHashMap<>();
        for (OpSpec o : OpCatalog.all()) {
            actual.put(o.name(), o.args().stream().map(ArgSpec::name).toList());
        }
        assertThat(actual).containsExactlyEntriesOf(CONTRACT);
    }

    static List<OpSpec> notImplemented() {
        return OpCatalog.all().stream().filter(o -> !o.implemented()).toList();
    }

    @Test
    @DisplayName("a step using an op whose layer does not exist yet is refused at validation")
    void notImplementedIsRefused() {
        // Every op of the contract is wired since the DMA API landed (issue 15); the rule stays
        // checked for any op added unwired later.
        for (OpSpec op : notImplemented()) {
            String yaml = "name: uses " + op.name() + "\nsteps:\n  - " + op.name() + ": {}\n";
            try {
                ScenarioReader.read("t.yaml", yaml);
                throw new AssertionError("accepted");
            } catch (InvalidScenarioException e) {
                assertThat(e.problems()).extracting(Problem::toString)
                        .contains("t.yaml:3:5: not implemented yet: " + op.name());
            }
        }
    }

    @Test
    @DisplayName("bindable results are exactly those with a value")
    void bindable() {
        for (OpSpec o : OpCatalog.all()) {
            boolean hasValue = o.result() != ResultKind.NONE && o.result() != ResultKind.REPORT
                    && o.result() != ResultKind.VIOLATIONS;
            assertThat(o.result().bindable()).as(o.name()).isEqualTo(hasValue);
        }
    }
}
