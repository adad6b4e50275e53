package org.jiommu.hw;

/**
 * The geometry of an in-memory ring that software and an IOMMU share through a producer and a
 * consumer index: VT-d's invalidation queue (IQA/IQH/IQT) and page-request queue
 * (PQA/PQH/PQT), SMMUv3's command, event and PRI queues (Q_BASE with LOG2SIZE, PROD/CONS).
 * Immutable: a unit builds a new one when software rewrites the base register.
 *
 * <p>Two ways to tell full from empty, as the two architectures do:
 * <ul>
 * <li>without a wrap bit (VT-d): an index is 0..entries-1; the ring is empty when producer ==
 *     consumer, so one slot always stays empty and a full ring holds entries - 1;</li>
 * <li>with a wrap bit (SMMUv3 3.5.1): a pointer carries the index in its low {@code log2Entries}
 *     bits and a wrap flag above them that flips at each pass; empty when index and wrap agree,
 *     full when the indices agree and the wraps differ, so all entries are usable.</li>
 * </ul>
 */
public final class QueueRing {
    private final long base;
    private final int log2Entries;
    private final int entryShift;
    private final boolean wrapBit;

    /**
     * @param base physical address of entry 0 (aligned to the ring by the software that set it)
     * @param log2Entries log2 of the number of entries (VT-d: QS + 8 or QS + 7; SMMUv3: LOG2SIZE)
     * @param entryShift log2 of the entry size in bytes (VT-d IQ: 4 or 5, PRQ: 5; SMMUv3 CMDQ: 4, EVTQ: 5)
     * @param wrapBit whether pointers carry a wrap flag above the index
     */
    public QueueRing(long base, int log2Entries, int entryShift, boolean wrapBit) {
        if (log2Entries < 0 || log2Entries > 30 || entryShift < 0 || entryShift > 12) {
            throw new IllegalArgumentException("log2Entries " + log2Entries + ", entryShift " + entryShift);
        }
        this.base = base;
        this.log2Entries = log2Entries;
        this.entryShift = entryShift;
        this.wrapBit = wrapBit;
    }

    public long base() {
        return base;
    }

    public int entries() {
        return 1 << log2Entries;
    }

    public int log2Entries() {
        return log2Entries;
    }

    public int entrySize() {
        return 1 << entryShift;
    }

    /** The index part of a pointer. */
    public int index(int pointer) {
        return pointer & (entries() - 1);
    }

    /** The wrap flag of a pointer (always false without a wrap bit). */
    public boolean wrap(int pointer) {
        return wrapBit && (pointer & entries()) != 0;
    }

    /** Whether {@code pointer} has bits beyond the index (and wrap flag). */
    public boolean valid(int pointer) {
        int bits = log2Entries + (wrapBit ? 1 : 0);
        return pointer >= 0 && pointer >>> bits == 0;
    }

    /** Address of the entry the pointer names. */
    public long slotAddress(int pointer) {
        return base + ((long) index(pointer) << entryShift);
    }

    /** The pointer after {@code pointer}: the index moves on, the wrap flag flips when it wraps. */
    public int advance(int pointer) {
        int mask = wrapBit ? (entries() << 1) - 1 : entries() - 1;
        return (pointer + 1) & mask;
    }

    public boolean empty(int producer, int consumer) {
        return producer == consumer;
    }

    /** Entries written and not yet consumed. */
    public int used(int producer, int consumer) {
        int diff = index(producer) - index(consumer);
        if (diff < 0 || (diff == 0 && wrap(producer) != wrap(consumer))) {
            diff += entries();
        }
        return diff;
    }

    /** Entries the producer can still write: all of them with a wrap bit, one fewer without. */
    public int capacity() {
        return wrapBit ? entries() : entries() - 1;
    }

    public boolean full(int producer, int consumer) {
        return used(producer, consumer) >= capacity();
    }

    @Override
    public String toString() {
        return String.format("ring@%#x[%d x %dB%s]", base, entries(), entrySize(), wrapBit ? ", wrap bit" : "");
    }
}
