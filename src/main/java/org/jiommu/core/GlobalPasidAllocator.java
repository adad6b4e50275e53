package org.jiommu.core;

import java.util.BitSet;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code iommu_global_pasid_ida} (SEMANTICS.md 8.4): one PASID namespace for the whole platform,
 * so one PASID can be programmed into several devices for the same address space (ENQCMD, SVA,
 * the aux domains' default PASIDs). {@code ida_alloc_range(1, max_pasids - 1)} hands out the lowest
 * free id; 0 ({@code IOMMU_NO_PASID}) is never handed out.
 *
 * <p>Thread-safe: a leaf lock (this object's monitor, the IDA's internal lock); nothing is called
 * out while it is held. Besides the ids, the model remembers the {@code max_pasids} of the device
 * each PASID was allocated for, so the invariant checker can test I-PASID-RANGE.
 */
final class GlobalPasidAllocator {
    private final BitSet used = new BitSet();
    /** PASID → the {@code max_pasids} limit it was allocated under. Guarded by this. */
    private final TreeMap<Integer, Integer> limits = new TreeMap<>();
    /** Where {@link #allocFor} / {@link #release} report fail_nth and WARNs; null for a bare IDA. */
    private final Tracer tracer;

    GlobalPasidAllocator() {
        this(null);
    }

    GlobalPasidAllocator(Tracer tracer) {
        this.tracer = tracer;
    }

    /**
     * The core's allocation: the kernel's reading of {@code max_pasids == 0} (the device cannot
     * issue PASIDs) and of an IDA out of memory (fail_nth at {@code site}) are
     * {@link IommuCore#IOMMU_PASID_INVALID}, like an exhausted range.
     */
    int allocFor(int maxPasids, String site) {
        if (maxPasids == 0) {
            return IommuCore.IOMMU_PASID_INVALID;
        }
        if (tracer.shouldFailAlloc("ida_alloc_range " + site)) {
            return IommuCore.IOMMU_PASID_INVALID;
        }
        return alloc(maxPasids);
    }

    /** The core's free: WARN and ignore for IOMMU_PASID_INVALID and (as {@code ida_free}) an id not allocated. */
    void release(int pasid, String fn) {
        if (pasid == IommuCore.IOMMU_PASID_INVALID) {
            tracer.warn(fn, "freeing IOMMU_PASID_INVALID");
            return;
        }
        if (!free(pasid)) {
            tracer.warn(fn, "ida_free called for PASID " + Integer.toUnsignedString(pasid) + " which is not allocated");
        }
    }

    /**
     * The lowest free id in {@code [1, maxPasids - 1]}, or {@link IommuCore#IOMMU_PASID_INVALID}
     * when the range is empty or exhausted.
     */
    synchronized int alloc(int maxPasids) {
        if (maxPasids <= IommuCore.IOMMU_FIRST_GLOBAL_PASID) {
            return IommuCore.IOMMU_PASID_INVALID;
        }
        int id = used.nextClearBit(IommuCore.IOMMU_FIRST_GLOBAL_PASID);
        if (id >= maxPasids) {
            return IommuCore.IOMMU_PASID_INVALID;
        }
        used.set(id);
        limits.put(id, maxPasids);
        return id;
    }

    /** {@code ida_free}; false if the id was not allocated (the kernel WARNs). */
    synchronized boolean free(int pasid) {
        if (pasid < 0 || !used.get(pasid)) {
            return false;
        }
        used.clear(pasid);
        limits.remove(pasid);
        return true;
    }

    synchronized boolean isAllocated(int pasid) {
        return pasid >= 0 && used.get(pasid);
    }

    /** Allocated PASIDs with the {@code max_pasids} each was allocated under, in PASID order. */
    synchronized Map<Integer, Integer> allocated() {
        return Collections.unmodifiableMap(new TreeMap<>(limits));
    }
}
