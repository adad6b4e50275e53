package org.jiommu.serve;

/**
 * A generated VT-d scenario of {@code n} PCI functions (up to 256 per bus, 8 per slot, ACS
 * isolated so each is a group of its own) where every function is given to VFIO and its guest
 * domain, maps 64 KiB and does one DMA: what the explorer's per-step time is measured on
 * (docs/PERFORMANCE.md, {@link ServeStepTiming}).
 */
final class LargePlatform {
    private LargePlatform() {
    }

    static String scenario(int n) {
        StringBuilder sb = new StringBuilder();
        sb.append("name: ").append(n).append(" PCI functions given to guests on one VT-d unit\n");
        sb.append("platform:\n  memory: 1GiB\n  iommus:\n    - {name: dmar0, kind: vtd, address-width: 48}\n  devices:\n");
        for (int i = 0; i < n; i++) {
            sb.append(String.format("    - {name: fn%d, bus: pci, bdf: \"%02x:%02x.%d\", iommu: dmar0, acs: true, caps: [ats], driver: dma-api}%n",
                    i, 1 + i / 256, i / 8 % 32, i % 8));
        }
        sb.append("steps:\n");
        for (int i = 0; i < n; i++) {
            sb.append(String.format("  - driver_unbind: {dev: fn%d}%n", i));
            sb.append(String.format("  - driver_bind: {dev: fn%d, driver: none}%n", i));
            sb.append(String.format("  - iommu_group_claim_dma_owner: {group: fn%d, owner: vfio}%n", i));
            sb.append(String.format("  - iommu_paging_domain_alloc: {dev: fn%d}%n    as: g%d%n", i, i));
            sb.append(String.format("  - iommu_map: {domain: g%d, iova: 0, paddr: %#x, size: 64KiB, prot: [read, write]}%n",
                    i, 0x4000000L + i * 0x10000L));
            sb.append(String.format("  - iommu_attach_group: {domain: g%d, group: fn%d}%n", i, i));
            sb.append(String.format("  - dma: {dev: fn%d, iova: 0x1234, read: 4}%n    expect: {paddr: %#x}%n", i,
                    0x4001234L + i * 0x10000L));
        }
        return sb.toString();
    }
}
