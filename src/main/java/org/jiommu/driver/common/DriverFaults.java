package org.jiommu.driver.common;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bugs planted on purpose, injected into a driver instead of living as knobs in its classes: the
 * stale-translation tests and the stress run's plant tests show that the hardware model's caches
 * are real by making a driver forget an invalidation, and S19 by making it forget an IOPF
 * reference. A driver asks {@link #take} at the one place each plant applies; with nothing
 * planted every answer is "behave". Thread-safe.
 */
public final class DriverFaults {
    /** The invalidations a driver can be made to leave out, each counted down by one per omission. */
    public enum Skip {
        /** The IOTLB command of an unmap, flush-all or mm-notifier flush. */
        IOTLB,
        /** One device-TLB (ATC) command of an unmap, flush-all or mm-notifier flush. */
        DEVICE_TLB,
        /** The PASID-tagged device-TLB command of a PASID entry's teardown (S08). */
        TEARDOWN_DEVICE_TLB,
        /**
         * One PASID-tagged device-TLB command for a device other than the leaving one at the last
         * teardown of that PASID (S08's "every device that could have cached it").
         */
        TEARDOWN_OTHER_DEVICE_TLB
    }

    private final Map<Skip, AtomicInteger> skips = new EnumMap<>(Skip.class);
    private volatile boolean leakIopfRefcount;
    private volatile boolean devTlbBeforeIotlbSync;

    public DriverFaults() {
        for (Skip s : Skip.values()) {
            skips.put(s, new AtomicInteger());
        }
    }

    /** The next {@code n} chances to issue a {@code kind} command are missed. */
    public DriverFaults skip(Skip kind, int n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative count " + n);
        }
        skips.get(kind).addAndGet(n);
        return this;
    }

    /** Whether the driver must leave this {@code kind} command out (and counts the omission). */
    public boolean take(Skip kind) {
        AtomicInteger counter = skips.get(kind);
        while (true) {
            int n = counter.get();
            if (n == 0) {
                return false;
            }
            if (counter.compareAndSet(n, n - 1)) {
                return true;
            }
        }
    }

    /** Omissions of {@code kind} still planted. */
    public int pending(Skip kind) {
        return skips.get(kind).get();
    }

    /** S19: detaching an IOPF-capable domain forgets to drop its IOPF reference. */
    public DriverFaults leakIopfRefcount(boolean v) {
        this.leakIopfRefcount = v;
        return this;
    }

    public boolean leakIopfRefcount() {
        return leakIopfRefcount;
    }

    /**
     * Race 9: every flush invalidates the device TLBs (ATCs) before the IOTLB invalidation and its
     * sync, so a translation request in between refills an ATC from the IOTLB's stale entry.
     */
    public DriverFaults devTlbBeforeIotlbSync(boolean v) {
        this.devTlbBeforeIotlbSync = v;
        return this;
    }

    public boolean devTlbBeforeIotlbSync() {
        return devTlbBeforeIotlbSync;
    }
}
