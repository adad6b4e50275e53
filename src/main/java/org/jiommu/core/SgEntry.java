package org.jiommu.core;

/**
 * One scatterlist entry for {@link IommuCore#mapSg}.
 *
 * @param paddr physical address of the segment
 * @param length bytes
 * @param busAddress a PCI peer-to-peer bus address ({@code sg_dma_is_bus_address}): not mapped,
 *     but still ends a run of physically contiguous segments
 */
public record SgEntry(long paddr, long length, boolean busAddress) {
    public SgEntry(long paddr, long length) {
        this(paddr, length, false);
    }
}
