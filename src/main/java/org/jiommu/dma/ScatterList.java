package org.jiommu.dma;

import java.util.List;

/**
 * A {@code struct scatterlist} table: the CPU side of each entry (physical address and length)
 * and, after {@code dma_map_sg}, the DMA side ({@code sg_dma_address}, {@code sg_dma_len}) of
 * the first {@code count} entries, which may be fewer than the CPU entries when segments merge.
 */
public final class ScatterList {
    final long[] paddr;
    final long[] length;
    final long[] dmaAddress;
    final long[] dmaLength;

    public ScatterList(List<long[]> segments) {
        int n = segments.size();
        if (n == 0) {
            throw new IllegalArgumentException("an empty scatterlist");
        }
        paddr = new long[n];
        length = new long[n];
        dmaAddress = new long[n];
        dmaLength = new long[n];
        for (int i = 0; i < n; i++) {
            long[] s = segments.get(i);
            if (s[1] <= 0) {
                throw new IllegalArgumentException("segment " + i + " of length " + s[1]);
            }
            paddr[i] = s[0];
            length[i] = s[1];
            dmaAddress[i] = DmaIommu.DMA_MAPPING_ERROR;
        }
    }

    public int nents() {
        return paddr.length;
    }

    public long paddr(int i) {
        return paddr[i];
    }

    public long length(int i) {
        return length[i];
    }

    /** {@code sg_dma_address}. */
    public long dmaAddress(int i) {
        return dmaAddress[i];
    }

    /** {@code sg_dma_len}. */
    public long dmaLength(int i) {
        return dmaLength[i];
    }
}
