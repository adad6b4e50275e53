package org.jiommu.scenario;

import static org.jiommu.scenario.ArgSpec.opt;
import static org.jiommu.scenario.ArgSpec.req;
import static org.jiommu.scenario.ArgType.ATTR;
import static org.jiommu.scenario.ArgType.CHECK;
import static org.jiommu.scenario.ArgType.DEVICE;
import static org.jiommu.scenario.ArgType.DEVICE_ENTRY;
import static org.jiommu.scenario.ArgType.DIR;
import static org.jiommu.scenario.ArgType.DOMAIN;
import static org.jiommu.scenario.ArgType.DRIVER;
import static org.jiommu.scenario.ArgType.FEATURE;
import static org.jiommu.scenario.ArgType.GROUP;
import static org.jiommu.scenario.ArgType.HANDLE;
import static org.jiommu.scenario.ArgType.HEX;
import static org.jiommu.scenario.ArgType.IOMMU;
import static org.jiommu.scenario.ArgType.MM;
import static org.jiommu.scenario.ArgType.NEW_NAME;
import static org.jiommu.scenario.ArgType.NUMBER;
import static org.jiommu.scenario.ArgType.PASID;
import static org.jiommu.scenario.ArgType.PROT;
import static org.jiommu.scenario.ArgType.TOKEN;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every op of SCENARIOS.md with its argument schema, in the document's order. An op is wired
 * to the model by one {@code .run(...)} here; an op without one is refused at validation
 * ("not implemented yet: OP") until its layer exists.
 */
public final class OpCatalog {
    /** The op key of an invariant check step: {@code - check: invariants}. */
    public static final String CHECK_OP = "check";
    /** The op that plants a stress plant's bug ({@code - plant: {name: skip-iotlb-invalidation}}). */
    public static final String PLANT_OP = "plant";
    /** The op whose argument is a whole device entry. */
    public static final String DEVICE_ADD_OP = "device_add";

    private static final Map<String, OpSpec> OPS = build();

    private OpCatalog() {
    }

    public static List<OpSpec> all() {
        return List.copyOf(OPS.values());
    }

    /** The op named so, or null. */
    public static OpSpec get(String name) {
        return OPS.get(name);
    }

    static java.util.Set<String> names() {
        return Collections.unmodifiableSet(OPS.keySet());
    }

    private static Map<String, OpSpec> build() {
        List<OpSpec> l = new ArrayList<>();
        String s = "domains";
        l.add(op("iommu_paging_domain_alloc", s, ResultKind.DOMAIN,
                "allocate an UNMANAGED paging domain from the driver behind dev", req("dev", DEVICE)));
        l.add(op("iommu_domain_free", s, ResultKind.NONE,
                "free a domain (-EBUSY while it is attached anywhere, S09)", req("domain", DOMAIN)));
        l.add(op("iommu_sva_bind_device", s, ResultKind.HANDLE,
                "bind dev to a process address space on the mm's PASID (SVA)", req("dev", DEVICE), req("mm", MM)));
        l.add(op("iommu_sva_unbind_device", s, ResultKind.NONE,
                "drop one SVA bond; the last one detaches the PASID", req("handle", HANDLE)));

        s = "attach";
        l.add(op("iommu_attach_device", s, ResultKind.NONE,
                "attach a domain to a device alone in its group", req("domain", DOMAIN), req("dev", DEVICE)));
        l.add(op("iommu_detach_device", s, ResultKind.NONE,
                "put the device's group back on its core domain (default, or blocking if owned)",
                req("domain", DOMAIN), req("dev", DEVICE)));
        l.add(op("iommu_attach_group", s, ResultKind.NONE,
                "attach a domain to every device of the group", req("domain", DOMAIN), req("group", GROUP)));
        l.add(op("iommu_detach_group", s, ResultKind.NONE,
                "put the group back on its core domain", req("domain", DOMAIN), req("group", GROUP)));
        l.add(op("iommu_group_replace_domain", s, ResultKind.NONE,
                "switch the group to a domain, private to private allowed", req("group", GROUP), req("domain", DOMAIN)));

        s = "PASID";
        l.add(op("iommu_attach_device_pasid", s, ResultKind.NONE,
                "attach a domain to one PASID of the device's group",
                req("domain", DOMAIN), req("dev", DEVICE), req("pasid", PASID)));
        l.add(op("iommu_detach_device_pasid", s, ResultKind.NONE,
                "remove the domain of one PASID (through the blocked domain's set_dev_pasid)",
                req("domain", DOMAIN), req("dev", DEVICE), req("pasid", PASID)));
        l.add(op("iommu_replace_device_pasid", s, ResultKind.NONE,
                "replace the domain already attached at a PASID",
                req("domain", DOMAIN), req("dev", DEVICE), req("pasid", PASID)));
        l.add(op("iommu_alloc_global_pasid", s, ResultKind.PASID,
                "allocate the lowest free global PASID within the device's width", req("dev", DEVICE)));
        l.add(op("iommu_free_global_pasid", s, ResultKind.NONE,
                "return a global PASID", req("pasid", PASID)));

        s = "features and aux";
        l.add(op("iommu_dev_has_feature", s, ResultKind.BOOL,
                "can the hardware behind dev do this feature (S01, S02)", req("dev", DEVICE), req("feature", FEATURE)));
        l.add(op("iommu_dev_feature_enabled", s, ResultKind.BOOL,
                "is the feature enabled on dev", req("dev", DEVICE), req("feature", FEATURE)));
        l.add(op("iommu_dev_enable_feature", s, ResultKind.NONE,
                "enable a per-device feature", req("dev", DEVICE), req("feature", FEATURE)));
        l.add(op("iommu_dev_disable_feature", s, ResultKind.NONE,
                "disable a per-device feature", req("dev", DEVICE), req("feature", FEATURE)));
        l.add(op("iommu_aux_attach_device", s, ResultKind.NONE,
                "attach a domain as an aux domain of dev, on the domain's default PASID (S03-S06)",
                req("domain", DOMAIN), req("dev", DEVICE)));
        l.add(op("iommu_aux_detach_device", s, ResultKind.NONE,
                "detach an aux domain; the last detach frees its PASID (S05, S08)",
                req("domain", DOMAIN), req("dev", DEVICE)));
        l.add(op("iommu_aux_get_pasid", s, ResultKind.PASID,
                "the PASID an aux domain uses on dev (S07)", req("domain", DOMAIN), req("dev", DEVICE)));
        l.add(op("iommu_domain_get_attr", s, ResultKind.NUMBER,
                "a domain attribute: ptbase = the aux domain's TTBR0 (S10)", req("domain", DOMAIN), req("attr", ATTR)));

        s = "ownership";
        l.add(op("iommu_device_use_default_domain", s, ResultKind.NONE,
                "a kernel driver starts using the DMA API (bind)", req("dev", DEVICE)));
        l.add(op("iommu_device_unuse_default_domain", s, ResultKind.NONE,
                "a kernel driver stops using the DMA API (unbind)", req("dev", DEVICE)));
        l.add(op("iommu_group_claim_dma_owner", s, ResultKind.NONE,
                "take the group for an exclusive owner (VFIO); moves it to the blocking domain",
                req("group", GROUP), req("owner", TOKEN)));
        l.add(op("iommu_group_release_dma_owner", s, ResultKind.NONE,
                "release the group; the default domain comes back", req("group", GROUP)));
        l.add(op("iommu_device_claim_dma_owner", s, ResultKind.NONE,
                "claim through one device (iommufd); equal owners share the group",
                req("dev", DEVICE), req("owner", TOKEN)));
        l.add(op("iommu_device_release_dma_owner", s, ResultKind.NONE,
                "release one device-level claim", req("dev", DEVICE)));
        l.add(op("iommu_group_dma_owner_claimed", s, ResultKind.BOOL,
                "does the group have users (kernel drivers or an owner)", req("group", GROUP)));

        s = "queries";
        l.add(op("iommu_get_domain_for_dev", s, ResultKind.DOMAIN_NAME,
                "the group's current domain: a bound name, or default / blocked / identity", req("dev", DEVICE)));
        l.add(op("iommu_group_id", s, ResultKind.NUMBER,
                "the group's id (equal ids = same group)", req("dev", DEVICE)));

        s = "mappings";
        l.add(op("iommu_map", s, ResultKind.NONE,
                "map [iova, iova+size) to paddr in a paging domain",
                req("domain", DOMAIN), req("iova", NUMBER), req("paddr", NUMBER), req("size", NUMBER), req("prot", PROT)));
        l.add(op("iommu_unmap", s, ResultKind.NUMBER,
                "unmap a range; returns the bytes unmapped", req("domain", DOMAIN), req("iova", NUMBER), req("size", NUMBER)));
        l.add(op("iommu_iova_to_phys", s, ResultKind.NUMBER,
                "the physical address the domain maps iova to (0 when unmapped)", req("domain", DOMAIN), req("iova", NUMBER)));
        l.add(op("iommu_flush_iotlb_all", s, ResultKind.NONE,
                "invalidate every IOTLB entry of the domain", req("domain", DOMAIN)));

        s = "lifecycle";
        l.add(op(DEVICE_ADD_OP, s, ResultKind.NONE,
                "hot-plug a device (a device entry as in platform.devices); probe runs", req("device", DEVICE_ENTRY)));
        l.add(op("device_del", s, ResultKind.NONE,
                "remove a device; release runs and parks it on the release domain", req("dev", DEVICE)));
        l.add(op("driver_bind", s, ResultKind.NONE,
                "bind a driver (dma-api: uses the default domain)", req("dev", DEVICE), req("driver", DRIVER)));
        l.add(op("driver_unbind", s, ResultKind.NONE,
                "unbind the device's driver", req("dev", DEVICE)));

        s = "device side";
        l.add(op("dma", s, ResultKind.DMA,
                "the device issues a DMA (read: N or write: N bytes), translated by the IOMMU hardware",
                req("dev", DEVICE), opt("pasid", PASID), req("iova", NUMBER), opt("read", NUMBER), opt("write", NUMBER),
                opt("data", HEX)));
        l.add(op("mem_write", s, ResultKind.NONE,
                "CPU writes bytes to physical memory", req("paddr", NUMBER), req("data", HEX)));
        l.add(op("mem_read", s, ResultKind.HEX,
                "CPU reads bytes from physical memory", req("paddr", NUMBER), req("size", NUMBER)));
        l.add(op("gpu_switch_ttbr0", s, ResultKind.NONE,
                "an SMMUv2 GPU master switches its context bank's TTBR0 itself (S10)",
                req("dev", DEVICE), req("ttbr0", NUMBER)));
        l.add(op("mm_create", s, ResultKind.NONE,
                "create a process address space for SVA", req("name", NEW_NAME)));
        l.add(op("mm_map", s, ResultKind.NONE,
                "map va to paddr in a process address space",
                req("mm", MM), req("va", NUMBER), req("paddr", NUMBER), req("size", NUMBER), req("prot", PROT)));
        l.add(op("mm_mmap", s, ResultKind.NONE,
                "an anonymous VMA in a process address space, no page populated: the first access faults one in",
                req("mm", MM), req("va", NUMBER), req("size", NUMBER), req("prot", PROT)));
        l.add(op("mm_translate", s, ResultKind.NUMBER,
                "the physical address the process page table maps va to (0: not populated)",
                req("mm", MM), req("va", NUMBER)));
        l.add(op("hw_dump", s, ResultKind.REPORT,
                "print the IOMMU's tables as its hardware walks them", req("iommu", IOMMU)));
        l.add(op("stats", s, ResultKind.REPORT,
                "print translation-cache and fault counters", opt("iommu", IOMMU), opt("dev", DEVICE)));

        DmaOps.catalog(l, "DMA API");

        s = "checks";
        l.add(op(CHECK_OP, s, ResultKind.VIOLATIONS,
                "run the invariant checker over the whole platform (check: invariants)", req("what", CHECK)));
        l.add(op(PLANT_OP, s, ResultKind.NONE,
                "plant a documented bug of the platform's IOMMU kinds (jiommu stress --list-plants)",
                req("name", TOKEN)));

        Map<String, OpSpec> m = new LinkedHashMap<>();
        for (OpSpec o : l) {
            m.put(o.name(), o);
        }
        Wiring.wire(m);
        m.get(PLANT_OP).run(CheckOps::plant);
        return Collections.unmodifiableMap(m);
    }

    private static OpSpec op(String name, String section, ResultKind result, String meaning, ArgSpec... args) {
        return new OpSpec(name, section, result, meaning, List.of(args));
    }
}
