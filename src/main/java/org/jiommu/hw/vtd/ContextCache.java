package org.jiommu.hw.vtd;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.BiPredicate;

/**
 * The context cache: decoded context entries ({@link ContextEntry} in legacy mode,
 * {@link ScalableContextEntry} in scalable mode) by source id, filled on a miss and dropped only
 * by a context-cache invalidation (descriptor or CCMD register).
 *
 * <p>A lookup is two array loads and allocates nothing: one lazily created 256-slot array per
 * bus. Fills follow the same epoch rule as {@link org.jiommu.hw.TaggedCache}: a walk that raced
 * with an invalidation does not fill.
 */
final class ContextCache {
    private static final VarHandle BUS = MethodHandles.arrayElementVarHandle(Object[][].class);
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Object[].class);

    private final Object[][] buses = new Object[256][];
    /** Guards fills, invalidations and epoch updates. */
    private final Object lock = new Object();
    private volatile long epoch; // written under lock
    /** Bumped under lock after an entry is removed or replaced (as {@link org.jiommu.hw.TaggedCache#generation()}). */
    private volatile long generation;
    private int size; // guarded by lock

    /** The cached entry of {@code sid}, or null. */
    Object get(int sid) {
        Object[] bus = (Object[]) BUS.getAcquire(buses, sid >>> 8);
        return bus == null ? null : SLOT.getAcquire(bus, sid & 0xFF);
    }

    long epoch() {
        return epoch;
    }

    /** If unchanged since before a {@link #get} that found an entry, that get's result still holds. */
    long generation() {
        return generation;
    }

    /** Caches the entry unless an invalidation ran since {@code epochSeen}. */
    boolean put(int sid, Object entry, long epochSeen) {
        synchronized (lock) {
            if (epoch != epochSeen) {
                return false;
            }
            Object[] bus = buses[sid >>> 8];
            if (bus == null) {
                bus = new Object[256];
                BUS.setRelease(buses, sid >>> 8, bus);
            }
            boolean replaced = SLOT.getAcquire(bus, sid & 0xFF) != null;
            if (!replaced) {
                size++;
            }
            SLOT.setRelease(bus, sid & 0xFF, entry);
            if (replaced) {
                generation++;
            }
            return true;
        }
    }

    /** Drops the entries for which {@code matches(sid, entry)} holds. @return how many */
    int invalidateIf(BiPredicate<Integer, Object> matches) {
        synchronized (lock) {
            epoch++;
            int n = 0;
            for (int b = 0; b < 256; b++) {
                Object[] bus = buses[b];
                if (bus == null) {
                    continue;
                }
                for (int d = 0; d < 256; d++) {
                    Object e = SLOT.getAcquire(bus, d);
                    if (e != null && matches.test(b << 8 | d, e)) {
                        SLOT.setRelease(bus, d, null);
                        n++;
                    }
                }
            }
            size -= n;
            if (n != 0) {
                generation++;
            }
            return n;
        }
    }

    /**
     * Drops the entries of the source ids equal to {@code sid} outside the bits of {@code ignore}
     * (a device-selective invalidation: FM masks function bits 2:0, VT-d spec 6.5.2.1), visiting
     * only those slots of sid's bus: the same as {@code invalidateIf((s, e) -> (s & ~ignore) ==
     * (sid & ~ignore))}. @return how many
     */
    int invalidateSources(int sid, int ignore) {
        if ((ignore & ~7) != 0) {
            throw new IllegalArgumentException("function mask bits " + ignore + " outside bits 2:0");
        }
        synchronized (lock) {
            epoch++;
            int n = 0;
            Object[] bus = buses[(sid >>> 8) & 0xFF];
            if (bus != null) {
                int base = sid & ~ignore & 0xFF;
                // every x with x & ~ignore == 0: the subsets of ignore, ignore itself first, 0 last
                for (int x = ignore; ; x = (x - 1) & ignore) {
                    if (SLOT.getAcquire(bus, base | x) != null) {
                        SLOT.setRelease(bus, base | x, null);
                        n++;
                    }
                    if (x == 0) {
                        break;
                    }
                }
            }
            size -= n;
            if (n != 0) {
                generation++;
            }
            return n;
        }
    }

    int invalidateAll() {
        return invalidateIf((sid, e) -> true);
    }

    int size() {
        synchronized (lock) {
            return size;
        }
    }
}
