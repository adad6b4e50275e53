package org.jiommu.dma;

import java.util.ArrayList;
import java.util.List;

/**
 * A simulated clock in milliseconds ({@code jiffies} at HZ=1000) with one-shot timers, so the
 * flush queue's 10 ms timeout and the IOVA depot's 100 ms trim run only when a test or a scenario
 * moves time on ({@link #advance}), never by wall time.
 *
 * <p>A timer fires once the clock reaches its expiry ({@code time_after_eq(jiffies, expires)});
 * callbacks run on the caller's thread after the clock's lock is released, in expiry order.
 */
public final class SimClock {
    private long nowMs;
    private final List<Timer> armed = new ArrayList<>();

    /** Milliseconds since boot. */
    public synchronized long nowMs() {
        return nowMs;
    }

    /** A timer ({@code struct timer_list}) calling {@code callback} when it fires. */
    public Timer timer(Runnable callback) {
        return new Timer(callback);
    }

    /** Moves time on by {@code ms} and runs every timer that expired, oldest expiry first. */
    public void advance(long ms) {
        if (ms < 0) {
            throw new IllegalArgumentException("time runs forward: " + ms + " ms");
        }
        long target;
        synchronized (this) {
            target = nowMs + ms;
        }
        while (true) {
            Timer due = null;
            synchronized (this) {
                for (Timer t : armed) {
                    if (t.expires <= target && (due == null || t.expires < due.expires)) {
                        due = t;
                    }
                }
                if (due == null) {
                    nowMs = target;
                    return;
                }
                armed.remove(due);
                due.pending = false; // cleared before the callback runs, as PENDING before the work function
                nowMs = Math.max(nowMs, due.expires);
            }
            due.callback.run();
        }
    }

    /** One-shot timer; re-arming a pending timer moves its expiry ({@code mod_timer}). */
    public final class Timer {
        private final Runnable callback;
        private long expires;
        /**
         * Armed (in {@code armed}): written under the clock's lock, read without it by
         * {@link #scheduleIn}, as {@code queue_delayed_work} tests the work's PENDING bit before
         * anything else, so a pending timer costs its callers no shared lock.
         */
        private volatile boolean pending;

        private Timer(Runnable callback) {
            this.callback = callback;
        }

        /** {@code mod_timer(t, jiffies + delayMs)}. */
        public void modIn(long delayMs) {
            synchronized (SimClock.this) {
                expires = nowMs + delayMs;
                if (!pending) {
                    armed.add(this);
                    pending = true;
                }
            }
        }

        /** {@code schedule_delayed_work}: arms only if not already pending. */
        public void scheduleIn(long delayMs) {
            if (pending) {
                return;
            }
            synchronized (SimClock.this) {
                if (!pending) {
                    expires = nowMs + delayMs;
                    armed.add(this);
                    pending = true;
                }
            }
        }

        public boolean pending() {
            return pending;
        }

        /** {@code del_timer}. */
        public void cancel() {
            synchronized (SimClock.this) {
                if (pending) {
                    armed.remove(this);
                    pending = false;
                }
            }
        }
    }
}
