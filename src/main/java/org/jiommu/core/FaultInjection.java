package org.jiommu.core;

/**
 * The model of the kernel's {@code fail_nth}: the Nth allocation (counted across the core's and
 * the drivers' modelled allocation sites) fails. Leaf lock.
 */
final class FaultInjection {
    private long countdown;

    synchronized void failNth(long n) {
        countdown = Math.max(0, n);
    }

    /** True if this allocation must fail; counts down only while armed. */
    synchronized boolean shouldFail() {
        if (countdown > 0 && --countdown == 0) {
            return true;
        }
        return false;
    }

    synchronized boolean armed() {
        return countdown > 0;
    }
}
