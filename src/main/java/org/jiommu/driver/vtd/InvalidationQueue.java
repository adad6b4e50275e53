package org.jiommu.driver.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.FSTS_IQE;
import static org.jiommu.hw.vtd.VtdRegisters.FSTS_REG;
import static org.jiommu.hw.vtd.VtdRegisters.IQA_DW;
import static org.jiommu.hw.vtd.VtdRegisters.IQA_REG;
import static org.jiommu.hw.vtd.VtdRegisters.IQH_REG;
import static org.jiommu.hw.vtd.VtdRegisters.IQT_REG;

import java.util.List;
import org.jiommu.base.WarningSink;
import org.jiommu.hw.vtd.VtdUnit;
import org.jiommu.mem.PhysicalMemory;

/**
 * The driver's side of one unit's invalidation queue ({@code struct q_inval} and
 * {@code qi_submit_sync} in drivers/iommu/dmar.c): a ring of descriptors in memory, a tail
 * register the driver moves, and a wait descriptor after every batch whose status write the
 * driver polls. {@link #submit} returns only once that status write has landed, so a caller
 * never runs ahead of an invalidation it asked for.
 *
 * <p>Geometry as Linux sets it up ({@code dmar_enable_qi}): 256 descriptors; 128-bit ones in one
 * page (IQA.QS = 0), or 256-bit ones in two pages (IQA.DW = 1, QS = 1) on a unit with
 * scalable-mode support, which PASID-based descriptors need.
 *
 * <p>Thread-safe: one submission at a time ({@code qi->q_lock}); the lock is the innermost of
 * the driver's locks.
 */
final class InvalidationQueue {
    /** QI_LENGTH. */
    static final int ENTRIES = 256;

    private final VtdUnit unit;
    private final PhysicalMemory mem;
    private final WarningSink warnings;
    private final String name;
    private final long base;
    private final boolean wide;
    private final int shift;
    private final long statusAddress;
    private final Object lock = new Object();
    /** Next free slot. Guarded by {@link #lock}. */
    private int tail;
    /** Status value of the last wait descriptor. Guarded by {@link #lock}. */
    private int seq;
    /** Batches submitted and descriptors written (the wait descriptors included). Guarded by {@link #lock}. */
    private long batches;
    private long descriptors;

    /**
     * @param base queue memory: 4 KiB for 128-bit descriptors, 8 KiB (aligned) for 256-bit ones
     * @param statusAddress an 8-byte word the wait descriptors write their status into
     */
    InvalidationQueue(VtdUnit unit, PhysicalMemory mem, WarningSink warnings, String name, long base, boolean wide,
                      long statusAddress) {
        this.unit = unit;
        this.mem = mem;
        this.warnings = warnings;
        this.name = name;
        this.base = base;
        this.wide = wide;
        this.shift = wide ? 5 : 4;
        this.statusAddress = statusAddress;
    }

    boolean wide() {
        return wide;
    }

    /** Tail = 0 and IQA = base | DW | QS; QIE is the caller's GCMD write (dmar_enable_qi). */
    void program() {
        unit.write64(IQT_REG, 0);
        long iqa = base | (wide ? IQA_DW | 1 : 0);
        unit.write64(IQA_REG, iqa);
    }

    /**
     * Posts {@code descs} and a wait descriptor, moves the tail and polls the status write.
     * Batches longer than the ring are split, each part with its own wait.
     *
     * @return false if the unit refused a descriptor (IQE): the bad one was replaced by the
     *     wait descriptor, IQE cleared and a warning recorded, as {@code qi_check_fault} does
     */
    boolean submit(List<long[]> descs) {
        synchronized (lock) {
            if (descs.size() <= ENTRIES - 2) {
                return submitLocked(descs); // the usual case: one part, no sub-list view
            }
            boolean ok = true;
            int i = 0;
            do {
                int n = Math.min(descs.size() - i, ENTRIES - 2);
                ok &= submitLocked(descs.subList(i, i + n));
                i += n;
            } while (i < descs.size());
            return ok;
        }
    }

    /** {@link #submit} with PD set in the final wait (qi_submit_sync with QI_OPT_WAIT_DRAIN). */
    boolean submitDraining(List<long[]> descs) {
        synchronized (lock) {
            drainNext = true;
            try {
                return submitLocked(descs);
            } finally {
                drainNext = false;
            }
        }
    }

    private boolean drainNext;

    private boolean submitLocked(List<long[]> descs) {
        waitForSpace(descs.size() + 1);
        for (long[] d : descs) {
            write(tail, d);
            tail = (tail + 1) % ENTRIES;
        }
        int status = ++seq;
        if (status == 0) {
            status = seq = 1; // 0 never marks a completion
        }
        long[] wait = VtdEncoder.invWait(true, false, true, status, statusAddress);
        if (drainNext) {
            wait[0] |= VtdEncoder.INV_WAIT_PAGE_DRAIN;
        }
        int waitIndex = tail;
        write(waitIndex, wait);
        tail = (tail + 1) % ENTRIES;
        batches++;
        descriptors += descs.size() + 1;
        unit.write64(IQT_REG, (long) tail << shift);
        return poll(status, wait, waitIndex);
    }

    private void write(int index, long[] d) {
        long a = base + ((long) index << shift);
        mem.writeLong(a, d[0]);
        mem.writeLong(a + 8, d[1]);
        if (wide) {
            mem.writeLong(a + 16, d.length > 2 ? d[2] : 0);
            mem.writeLong(a + 24, d.length > 3 ? d[3] : 0);
        }
    }

    /** The status dword of the wait descriptor (little-endian low half of the word). */
    private int status() {
        return (int) mem.readLongAcquire(statusAddress);
    }

    private boolean poll(int expected, long[] wait, int waitIndex) {
        boolean ok = true;
        int spins = 0;
        while (status() != expected) {
            if ((unit.read32(FSTS_REG) & FSTS_IQE) != 0) {
                int head = (int) (unit.read64(IQH_REG) >>> shift);
                warnings.warn("qi_check_fault", String.format("%s: VT-d detected invalid descriptor %d: %#x %#x (%s)",
                        name, head, mem.readLong(base + ((long) head << shift)),
                        mem.readLong(base + ((long) head << shift) + 8), unit.lastQueueError()));
                // Replace the bad descriptor by the wait so the queue completes when it resumes.
                write(head, wait);
                if (head != waitIndex) {
                    write(waitIndex, wait);
                }
                unit.write32(FSTS_REG, FSTS_IQE);
                ok = false;
                continue;
            }
            spinWait(++spins);
        }
        return ok;
    }

    /** Waits until {@code n} slots are free between tail and head (reclaim_free_desc). */
    private void waitForSpace(int n) {
        int spins = 0;
        while (true) {
            int head = (int) (unit.read64(IQH_REG) >>> shift);
            int free = (head - tail - 1 + ENTRIES) % ENTRIES;
            if (free >= n) {
                return;
            }
            spinWait(++spins);
        }
    }

    /** A unit that processes its queue asynchronously needs time: spin briefly, then yield. */
    private static void spinWait(int spins) {
        if (spins < 64) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    /** Batches submitted so far (each ended by one wait descriptor). */
    long batches() {
        synchronized (lock) {
            return batches;
        }
    }

    long descriptors() {
        synchronized (lock) {
            return descriptors;
        }
    }
}
