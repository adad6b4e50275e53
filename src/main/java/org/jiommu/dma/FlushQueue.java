package org.jiommu.dma;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.IntSupplier;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.pgtable.IotlbGather;

/**
 * The flush queue of a DMA-FQ domain (dma-iommu.c, {@code struct iova_fq}): an unmapped IOVA is
 * not freed at once but queued with the flush count current at that time; it is freed only
 * once a later IOTLB flush of the whole domain has finished, so until then a stale IOTLB entry
 * can still translate it (the price of lazy invalidation). The queue is flushed when a CPU's
 * ring is full, or by a 10 ms timer armed by the first queued entry.
 *
 * <p>Per-CPU rings of {@link #IOVA_DEFAULT_FQ_SIZE} entries (one slot is always empty: 255
 * usable) with a {@link #IOVA_DEFAULT_FQ_TIMEOUT_MS} timer; or one shared ring of
 * {@link #IOVA_SINGLE_FQ_SIZE} entries with a 1 s timer (the kernel's choice for units that
 * shadow their tables and pay for every flush, {@code IOMMU_DMA_OPTS_SINGLE_QUEUE}).
 */
public final class FlushQueue {
    public static final int IOVA_DEFAULT_FQ_SIZE = 256;
    public static final long IOVA_DEFAULT_FQ_TIMEOUT_MS = 10;
    public static final int IOVA_SINGLE_FQ_SIZE = 32768;
    public static final long IOVA_SINGLE_FQ_TIMEOUT_MS = 1000;

    /** {@code struct iova_fq_entry}. */
    private static final class Entry {
        long pfn;
        long pages;
        long counter;
        IotlbGather freelist;
    }

    /** The fields of a ring, laid out before {@link Ring}'s padding. */
    private abstract static class RingFields {
        Entry[] entries;
        int modMask;
        int head;
        int tail;
    }

    /**
     * {@code struct iova_fq}: a ring under its lock (the ring's monitor, {@code fq->lock}).
     * Padded ({@link CpuPad}): its CPU takes the lock and moves the tail on every unmap.
     */
    private static final class Ring extends RingFields {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;

        Ring(int size) {
            entries = new Entry[size];
            for (int i = 0; i < size; i++) {
                entries[i] = new Entry();
            }
            modMask = size - 1;
        }

        boolean full() {
            return ((tail + 1) & modMask) == head;
        }

        int size() {
            return (tail - head) & modMask;
        }
    }

    private final IommuCore core;
    private final IommuDomain domain;
    private final IovaDomain iovad;
    private final boolean single;
    private final long timeoutMs;
    /** One ring per CPU (or the single one), then {@link CpuPad#REFS} unused slots: every CPU reads it. */
    private final Ring[] rings;
    private final int ringCount;
    /**
     * {@code fq_flush_start_cnt}, {@code fq_flush_finish_cnt}, {@code fq_timer_on}: every unmap
     * reads them, only flushes write them; padded ({@link CpuPad}) apart from the rings, whose
     * lines their CPUs write on every unmap (as separate atomics they sat next to ring 0).
     */
    private final Counts counts = new Counts();
    /**
     * The kernel's exact {@code queue_iova}: after its own flush a full ring frees by
     * {@code fq_flush_finish_cnt} alone, so while another CPU is mid-flush it can stay full and
     * {@code fq_ring_add} wraps it (255 IOVAs and their freed table pages lost: the checker's D4
     * reports it). Off by default: in the kernel that flush runs with interrupts off and cannot
     * be descheduled, so the window needs a preempted vCPU; a model thread is descheduled there
     * often, which would make the leak an artefact of the model rather than a rare kernel race.
     */
    private volatile boolean kernelRingFree;
    private final SimClock.Timer timer;
    /** The CPU the calling thread runs as: where {@code free_iova_fast} puts what a flush frees. */
    private final IntSupplier currentCpu;

    private abstract static class CountFields {
        volatile long flushStartCnt;
        volatile long flushFinishCnt;
        volatile int timerOn;
    }

    private static final class Counts extends CountFields {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;
    }

    private static final VarHandle START;
    private static final VarHandle FINISH;
    private static final VarHandle TIMER_ON;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            START = l.findVarHandle(CountFields.class, "flushStartCnt", long.class);
            FINISH = l.findVarHandle(CountFields.class, "flushFinishCnt", long.class);
            TIMER_ON = l.findVarHandle(CountFields.class, "timerOn", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** {@code iommu_dma_init_fq}. */
    FlushQueue(IommuCore core, IommuDomain domain, IovaDomain iovad, SimClock clock, boolean single,
               IntSupplier currentCpu) {
        this.currentCpu = currentCpu;
        this.core = core;
        this.domain = domain;
        this.iovad = iovad;
        this.single = single;
        this.timeoutMs = single ? IOVA_SINGLE_FQ_TIMEOUT_MS : IOVA_DEFAULT_FQ_TIMEOUT_MS;
        int n = single ? 1 : iovad.cpus();
        ringCount = n;
        rings = new Ring[n + CpuPad.REFS];
        for (int i = 0; i < n; i++) {
            rings[i] = new Ring(single ? IOVA_SINGLE_FQ_SIZE : IOVA_DEFAULT_FQ_SIZE);
        }
        timer = clock.timer(this::flushTimeout);
    }

    /**
     * {@code queue_iova}: free what other CPUs' flushes already covered, flush now if the ring is
     * full, add the entry stamped with the current flush-start count, and arm the timer if it is
     * not running.
     */
    void queue(int cpu, long pfn, long pages, IotlbGather gather) {
        Ring fq = rings[single ? 0 : cpu];
        synchronized (fq) {
            ringFreeLocked(fq, cpu, counts.flushFinishCnt);
            if (fq.full()) {
                // Our own flush covers every entry in the ring: each was stamped before it
                // started. The kernel frees by fq_flush_finish_cnt alone, which lags while
                // another CPU's flush is between its start and finish increments; the ring then
                // stays full and fq_ring_add wraps tail onto head, losing all 255 entries (a
                // 2-thread lazy run leaked thousands of IOVAs that way on a busy host, where a
                // flushing thread can be descheduled mid-flush). So free up to our own start.
                long started = flushIotlb();
                ringFreeLocked(fq, cpu, kernelRingFree ? counts.flushFinishCnt : Math.max(started, counts.flushFinishCnt));
            }
            Entry e = fq.entries[fq.tail];
            fq.tail = (fq.tail + 1) & fq.modMask;
            e.pfn = pfn;
            e.pages = pages;
            e.counter = counts.flushStartCnt;
            e.freelist = gather.freelist.isEmpty() ? null : gather;
        }
        if (counts.timerOn == 0 && (int) TIMER_ON.getAndSet(counts, 1) == 0) {
            timer.modIn(timeoutMs);
        }
    }

    /**
     * {@code fq_flush_iotlb}: one flush of the whole domain, counted before and after. Returns
     * the start count this flush took: every entry stamped below it was queued before the flush
     * began, so it is covered once the call returns.
     */
    private long flushIotlb() {
        long started = (long) START.getAndAdd(counts, 1L) + 1;
        core.flushIotlbAll(domain);
        FINISH.getAndAdd(counts, 1L);
        return started;
    }

    /** Run the kernel's exact ring free after a full ring's flush (see {@link #kernelRingFree}). */
    void kernelRingFree(boolean on) {
        kernelRingFree = on;
    }

    /**
     * Tests: another CPU's flush has started and not finished ({@code fq_flush_start_cnt} moved,
     * {@code fq_flush_finish_cnt} not yet), the window in which a full ring used to lose entries.
     */
    void startFlushElsewhere() {
        START.getAndAdd(counts, 1L);
    }

    /**
     * {@code fq_ring_free_locked}: from the head, every entry stamped below {@code counter}
     * ({@code fq_flush_finish_cnt}: queued before a flush that has finished started) goes back to
     * the IOVA allocator (and its page-table pages are freed).
     */
    private void ringFreeLocked(Ring fq, int cpu, long counter) {
        while (fq.head != fq.tail) {
            Entry e = fq.entries[fq.head];
            if (e.counter >= counter) {
                break;
            }
            if (e.freelist != null) {
                // iommu_put_pages_list: the driver frees the table pages; its iotlb_sync does
                // that here (its range invalidation is redundant after the full flush)
                core.iotlbSync(domain, e.freelist);
                e.freelist = null;
            }
            iovad.freeIovaFast(cpu, e.pfn, e.pages);
            fq.head = (fq.head + 1) & fq.modMask;
        }
    }

    /**
     * {@code fq_flush_timeout}: the timer fired: flush, then free every ring's covered entries,
     * all into the caches of the CPU the timer runs on ({@code free_iova_fast} takes
     * {@code raw_cpu_ptr}; here the thread that moved the clock or ran the flush).
     */
    private void flushTimeout() {
        counts.timerOn = 0;
        long started = flushIotlb();
        int cpu = currentCpu.getAsInt();
        for (int i = 0; i < ringCount; i++) {
            Ring fq = rings[i];
            synchronized (fq) {
                ringFreeLocked(fq, cpu, Math.max(started, counts.flushFinishCnt));
            }
        }
    }

    /** Runs the timeout work now (the scenario op {@code dma_fq_flush}); the pending timer is dropped. */
    public void flushNow() {
        timer.cancel();
        flushTimeout();
    }

    /** Entries waiting for a flush, all rings. */
    public int queued() {
        int n = 0;
        for (int k = 0; k < ringCount; k++) {
            Ring r = rings[k];
            synchronized (r) {
                n += r.size();
            }
        }
        return n;
    }

    /** The first pfn of every range waiting in a ring, each ring from its head. */
    public java.util.List<Long> queuedPfns() {
        java.util.List<Long> out = new java.util.ArrayList<>();
        for (int k = 0; k < ringCount; k++) {
            Ring r = rings[k];
            synchronized (r) {
                for (int i = r.head; i != r.tail; i = (i + 1) & r.modMask) {
                    out.add(r.entries[i].pfn);
                }
            }
        }
        return out;
    }

    /** Whether the IOVA range starting at {@code pfn} is waiting in a ring. */
    public boolean isQueued(long pfn) {
        for (int k = 0; k < ringCount; k++) {
            Ring r = rings[k];
            synchronized (r) {
                for (int i = r.head; i != r.tail; i = (i + 1) & r.modMask) {
                    if (r.entries[i].pfn == pfn) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    public boolean singleQueue() {
        return single;
    }

    public boolean timerPending() {
        return timer.pending();
    }

    /** Flushes finished so far ({@code fq_flush_finish_cnt}). */
    public long flushes() {
        return counts.flushFinishCnt;
    }
}
