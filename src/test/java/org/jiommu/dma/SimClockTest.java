package org.jiommu.dma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The simulated clock's timers: schedule_delayed_work, mod_timer and del_timer semantics. */
class SimClockTest {
    @Test
    @DisplayName("scheduleIn arms only a timer that is not pending: a second call keeps the first expiry")
    void scheduleInKeepsPendingExpiry() {
        SimClock clock = new SimClock();
        List<Long> fired = new ArrayList<>();
        SimClock.Timer[] t = new SimClock.Timer[1];
        t[0] = clock.timer(() -> fired.add(clock.nowMs()));
        t[0].scheduleIn(10);
        clock.advance(5);
        t[0].scheduleIn(10); // pending: no change (the kernel's queue_delayed_work returns false)
        assertThat(t[0].pending()).isTrue();
        clock.advance(5);
        assertThat(fired).containsExactly(10L);
        assertThat(t[0].pending()).isFalse();
    }

    @Test
    @DisplayName("mod_timer moves a pending timer's expiry; del_timer drops it; a fired timer can be armed again")
    void modAndCancel() {
        SimClock clock = new SimClock();
        List<Long> fired = new ArrayList<>();
        SimClock.Timer t = clock.timer(() -> fired.add(clock.nowMs()));
        t.modIn(10);
        t.modIn(20);
        clock.advance(15);
        assertThat(fired).isEmpty();
        clock.advance(5);
        assertThat(fired).containsExactly(20L);
        t.scheduleIn(10);
        t.cancel();
        assertThat(t.pending()).isFalse();
        clock.advance(100);
        assertThat(fired).containsExactly(20L);
        t.scheduleIn(10);
        clock.advance(10);
        assertThat(fired).containsExactly(20L, 130L);
    }

    @Test
    @DisplayName("a callback that schedules its own timer again (the IOVA depot's trim work) runs once per period")
    void selfReschedulingCallback() {
        SimClock clock = new SimClock();
        List<Long> fired = new ArrayList<>();
        SimClock.Timer[] t = new SimClock.Timer[1];
        t[0] = clock.timer(() -> {
            fired.add(clock.nowMs());
            if (fired.size() < 3) {
                t[0].scheduleIn(100); // PENDING was cleared before the callback ran
            }
        });
        t[0].scheduleIn(100);
        clock.advance(1000);
        assertThat(fired).containsExactly(100L, 200L, 300L);
        assertThat(t[0].pending()).isFalse();
    }
}
