package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.PlatformDevice;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The one "lock the group, carry on only if the device is still in it" helper the engines share
 * (detach, use/unuse default domain, reset, deferred attach, PASID attach, ...).
 */
class GroupLocksTest {
    private final Tracer tracer = new Tracer();
    private final GroupLocks locks = new GroupLocks(tracer);
    private final PlatformDevice dev = new PlatformDevice("a", List.of(1), 0);

    @Test
    @DisplayName("a member: the body runs under the group mutex, which is free again afterwards")
    void memberRunsLocked() {
        IommuGroup g = new IommuGroup(0);
        g.devices.add(dev);
        AtomicInteger ran = new AtomicInteger();
        assertThat(locks.whileMember(g, dev, () -> {
            assertThat(g.mutex.isHeldByCurrentThread()).isTrue();
            ran.incrementAndGet();
        })).isTrue();
        assertThat(ran).hasValue(1);
        assertThat(g.mutex.isLocked()).isFalse();
    }

    @Test
    @DisplayName("a device that left (or no group): the body does not run, false; the fail variant is -ENODEV")
    void leftDeviceSkips() {
        IommuGroup g = new IommuGroup(0);
        AtomicInteger ran = new AtomicInteger();
        assertThat(locks.whileMember(g, dev, ran::incrementAndGet)).isFalse();
        assertThat(locks.whileMember(null, dev, ran::incrementAndGet)).isFalse();
        assertThatThrownBy(() -> locks.whileMemberOrFail(g, dev, "fn: ", ran::incrementAndGet))
                .isInstanceOf(IommuException.class)
                .hasMessageEndingWith("fn: " + dev + " left " + g)
                .satisfies(e -> assertThat(((IommuException) e).errno()).isEqualTo(Errno.ENODEV));
        assertThat(ran).hasValue(0);
        assertThat(g.mutex.isLocked()).isFalse();
    }

    @Test
    @DisplayName("S20 a body that throws still gives the mutex back; re-entry from inside is a WARN and refused")
    void bodyThrowsAndReentry() {
        IommuGroup g = new IommuGroup(0);
        g.devices.add(dev);
        assertThatThrownBy(() -> locks.whileMember(g, dev, () -> locks.lock(g)))
                .isInstanceOf(IllegalStateException.class);
        assertThat(g.mutex.isLocked()).isFalse();
        assertThat(tracer.warnings()).singleElement().satisfies(w -> assertThat(w.where()).isEqualTo("mutex_lock"));
    }
}
