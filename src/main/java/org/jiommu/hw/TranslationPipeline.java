package org.jiommu.hw;

import java.util.List;
import org.jiommu.bus.dma.TranslationResult;

/**
 * The translation skeleton every IOMMU model here follows (QEMU's smmu-common and intel_iommu
 * have the same shape), in this order:
 * <ol>
 * <li><b>device config</b>: the per-requester entry (VT-d root + context entry, SMMUv3 STE,
 *     SMMUv2 stream-match + S2CR + context bank), cached by requester id in a {@link TaggedCache}
 *     or similar, loaded from memory on a miss;</li>
 * <li><b>per-PASID config</b>: the entry of the address space (VT-d PASID directory + entry,
 *     SMMUv3 CD by SSID), cached by (requester, PASID);</li>
 * <li><b>IOTLB</b>: {@link #iotlbHit} by (tag, page) over the page sizes the model's tables
 *     have, smallest first (skipping sizes no entry ever had, {@link Iotlb#sizesSeen}); an entry
 *     lacking the permission the access needs is not used (the unit walks again, as a CPU TLB
 *     does);</li>
 * <li><b>walk</b>: the model's walker (VT-d first/second level, {@code hw.arm.VmsaWalker});</li>
 * <li><b>fill or fault</b>: {@link #iotlbFill} with the epoch read before the walk (an
 *     invalidation that ran meanwhile drops the fill), or the model's fault recording with a
 *     {@link FaultKind} mapped to its own records.</li>
 * </ol>
 * Steps 1, 2 and 4 and the fault records are the model's; this class holds the IOTLB step and
 * its counters ({@code iotlb.hits / misses / fills / fills-dropped}), which every model shares.
 * Lock-free and allocation-free except for the entry a fill creates.
 */
public abstract class TranslationPipeline {
    private final Iotlb iotlb;
    private final int[] pageShifts;
    private final HwStats.Counter hits;
    private final HwStats.Counter misses;
    private final HwStats.Counter fills;
    private final HwStats.Counter fillsDropped;

    /**
     * @param iotlbEntries IOTLB capacity (0: every request walks)
     * @param pageShifts log2 of the page sizes leaves can have, smallest first
     */
    protected TranslationPipeline(HwStats stats, int iotlbEntries, int[] pageShifts) {
        this.iotlb = new Iotlb(iotlbEntries);
        this.pageShifts = pageShifts.clone();
        this.hits = stats.counter("iotlb.hits");
        this.misses = stats.counter("iotlb.misses");
        this.fills = stats.counter("iotlb.fills");
        this.fillsDropped = stats.counter("iotlb.fills-dropped");
    }

    /** The IOTLB, for the model's invalidation commands. */
    public final Iotlb iotlb() {
        return iotlb;
    }

    /** The IOTLB's current entries, for inspection. */
    public final List<IotlbEntry> iotlbEntries() {
        return iotlb.entries();
    }

    /**
     * Step 3: the entry of {@code tag} holding {@code iova} if it grants the access, counted as
     * a hit; otherwise null, counted as a miss.
     */
    protected final IotlbEntry iotlbHit(long tag, long iova, boolean write) {
        IotlbEntry e = iotlbLookup(tag, iova, write);
        if (e != null) {
            hits.increment();
        } else {
            misses.increment();
        }
        return e;
    }

    /** {@link #iotlbHit} without counting. */
    private IotlbEntry iotlbLookup(long tag, long iova, boolean write) {
        long sizes = iotlb.sizesSeen(); // sizes never cached cannot hold the entry: not probed
        for (int shift : pageShifts) {
            if ((sizes >>> shift & 1) == 0) {
                continue;
            }
            IotlbEntry e = iotlb.lookup(tag, iova, shift);
            if (e != null) {
                return (write ? e.writable() : e.readable()) ? e : null;
            }
        }
        return null;
    }

    /**
     * Step 3 for a request that a hit answers completely: on a hit, {@code out} gets the output
     * address, the page size and the entry's permissions.
     */
    protected final boolean iotlbTranslate(long tag, long iova, boolean write, TranslationResult out) {
        return answer(iotlbHit(tag, iova, write), iova, out);
    }

    /**
     * {@link #iotlbTranslate} that counts nothing: for a path that counts its hit in a counter
     * made by {@link HwStats#combined} with {@code "iotlb.hits"} among its names, and calls
     * {@link #iotlbMissed} on a miss, so the figures stay those of {@link #iotlbTranslate}.
     */
    protected final boolean iotlbTranslateUncounted(long tag, long iova, boolean write, TranslationResult out) {
        return answer(iotlbLookup(tag, iova, write), iova, out);
    }

    /** A hit's output address, page size and permissions into {@code out}; false for no entry. */
    private static boolean answer(IotlbEntry e, long iova, TranslationResult out) {
        if (e == null) {
            return false;
        }
        out.pa = e.translate(iova);
        out.pageSize = e.pageSize();
        out.readable = e.readable();
        out.writable = e.writable();
        return true;
    }

    /** Counts the miss of an {@link #iotlbTranslateUncounted} that found nothing usable. */
    protected final void iotlbMissed() {
        misses.increment();
    }

    /** Read before a walk whose result may be filled. */
    protected final long iotlbEpoch() {
        return iotlb.epoch();
    }

    /**
     * Step 5: caches a walk's result, unless the IOTLB is disabled or an invalidation ran since
     * {@code epochSeen} (then the fill is dropped and counted).
     *
     * @param pageBase output address of the page; {@code pageSize} a power of two
     * @param perms {@link IotlbEntry#READ} | {@link IotlbEntry#WRITE}
     * @param attributes model-specific (VT-d: the PGTT that filled it)
     */
    protected final void iotlbFill(long tag, long iova, long pageBase, long pageSize, int perms, int attributes,
                                   long epochSeen) {
        if (iotlb.capacity() == 0) {
            return;
        }
        IotlbEntry e = new IotlbEntry(tag, iova & ~(pageSize - 1), Long.numberOfTrailingZeros(pageSize), pageBase,
                perms, attributes);
        if (iotlb.insert(e, epochSeen)) {
            fills.increment();
        } else {
            fillsDropped.increment();
        }
    }
}
