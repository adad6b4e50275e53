package org.jiommu.dma;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jiommu.mem.PhysicalMemory;

/**
 * The software IO TLB (kernel/dma/swiotlb.c) as the DMA layer uses it for untrusted devices: a
 * pool of 2 KiB slots in memory the device may see; a mapping copies the caller's buffer into
 * slots ({@code swiotlb_tbl_map_single}), the syncs and the unmap copy between the two
 * ({@code swiotlb_bounce}), so the device only ever reaches the bounce copy.
 *
 * <p>As {@code iommu_dma_map_swiotlb} asks, a bounce buffer starts on an IOVA granule
 * ({@code alloc_align_mask = iova_mask}) and owns whole granules: the granule the IOMMU maps for
 * it holds nothing but the buffer and zeroed padding (no other mapping's slots, no kernel data).
 */
final class Swiotlb {
    /** {@code IO_TLB_SHIFT}: 2 KiB slots. */
    static final int IO_TLB_SHIFT = 11;
    static final long IO_TLB_SIZE = 1L << IO_TLB_SHIFT;

    /** One bounce mapping: the caller's buffer, its length, and the slots it holds. */
    record Slot(long origAddr, long mappingSize, int slots) {
    }

    private final PhysicalMemory memory;
    private final PagePool pool;
    private final Map<Long, Slot> slots = new ConcurrentHashMap<>();

    Swiotlb(PhysicalMemory memory, long base, long size) {
        this.memory = memory;
        this.pool = new PagePool(base, size, IO_TLB_SIZE);
    }

    /** {@code is_swiotlb_buffer}. */
    boolean isSwiotlbBuffer(long pa) {
        return pool.contains(pa);
    }

    /**
     * {@code swiotlb_tbl_map_single}: slots for {@code size} bytes padded to whole granules of
     * {@code allocAlignMask + 1}, the buffer copied in (always, so a FROM_DEVICE buffer the
     * device does not overwrite cannot leak old pool contents), the padding zeroed. Returns the
     * bounce address or {@link DmaIommu#DMA_MAPPING_ERROR} when the pool is full.
     */
    long mapSingle(long orig, long size, long allocAlignMask) {
        long granule = allocAlignMask + 1;
        long alloc = (size + granule - 1) & -granule;
        int n = (int) (alloc >>> IO_TLB_SHIFT);
        long tlb = pool.alloc(n, (int) Math.max(1, granule >>> IO_TLB_SHIFT));
        if (tlb < 0) {
            return DmaIommu.DMA_MAPPING_ERROR;
        }
        slots.put(tlb, new Slot(orig, size, n));
        bounce(orig, tlb, size);
        memory.zero(tlb + size, alloc - size);
        return tlb;
    }

    /** {@code swiotlb_tbl_unmap_single}: copy back what the device wrote (unless skipped), then free the slots. */
    void unmapSingle(long tlb, long size, DmaDirection dir, boolean skipCpuSync) {
        Slot s = slots.remove(tlb);
        if (s == null) {
            return;
        }
        if (!skipCpuSync && dir.fromDevice()) {
            bounce(tlb, s.origAddr(), s.mappingSize());
        }
        pool.free(tlb, s.slots());
    }

    /** {@code swiotlb_sync_single_for_device}: the CPU's data into the bounce buffer. */
    void syncForDevice(long tlb, long size, DmaDirection dir) {
        Slot s = slot(tlb);
        if (s != null && dir.toDevice()) {
            bounce(s.origAddr() + (tlb - base(tlb)), tlb, size);
        }
    }

    /** {@code swiotlb_sync_single_for_cpu}: the device's data into the caller's buffer. */
    void syncForCpu(long tlb, long size, DmaDirection dir) {
        Slot s = slot(tlb);
        if (s != null && dir.fromDevice()) {
            bounce(tlb, s.origAddr() + (tlb - base(tlb)), size);
        }
    }

    /** The mapping a bounce address lies in (a sync may name an address inside it). */
    private Slot slot(long tlb) {
        long b = base(tlb);
        return b < 0 ? null : slots.get(b);
    }

    private long base(long tlb) {
        for (Map.Entry<Long, Slot> e : slots.entrySet()) {
            long start = e.getKey();
            if (tlb >= start && tlb < start + e.getValue().mappingSize()) {
                return start;
            }
        }
        return -1;
    }

    private void bounce(long from, long to, long size) {
        memory.write(to, memory.read(from, (int) size));
    }

    /** Bounce mappings live now (accounting). */
    int liveMappings() {
        return slots.size();
    }

    int usedSlots() {
        return pool.usedUnits();
    }
}
