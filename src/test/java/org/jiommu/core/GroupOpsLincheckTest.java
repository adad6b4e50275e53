package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jetbrains.lincheck.datastructures.ManagedStrategyGuaranteeKt.forClasses;

import java.lang.reflect.Field;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jiommu.base.IommuException;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.check.CoreWatch;
import org.jiommu.check.InvariantWatch;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Lincheck in model-checking mode on the core's group operations, on one group of two devices
 * (mock driver, {@code a} and {@code b} grouped as an ACS-less PCI pair would be): attach and
 * detach of two unmanaged domains by the group API, {@code iommu_group_replace_domain},
 * {@code iommu_attach_device} (-EINVAL on a two-device group), the group and device DMA
 * ownership claims and releases, and {@code iommu_device_use/unuse_default_domain}, with a read
 * of the group's state (domain, owner, owner_cnt) under the group mutex. Every interleaving of
 * two threads making three calls each, at every shared memory access Lincheck instruments, must
 * give the results of some sequential order of the same calls (the test class itself run
 * serially is the specification): each call is atomic under {@code group->mutex}, as the
 * kernel's are.
 *
 * <p>A call that fails returns its negative errno; a WARN (a release without a claim, an unuse
 * without a use: caller bugs the kernel reports and survives) is part of the result too, so
 * an interleaving that WARNs where no sequential order would is caught. The companion test runs
 * the same check with the group's mutex replaced by one that locks nothing and must fail.
 *
 * <p>How the model checker is set up ({@link #options()}), and why:
 * <ul>
 * <li>Only the group logic is interleaved: the device/group tables ({@code CoreRegistry}, a leaf
 *     lock), the SPI types and the mock driver, hardware, page tables, memory, bus and base
 *     helpers run as atomic calls, and the tracer's sinks (not {@code Tracer.call}, which runs the
 *     call's body) and {@code IommuGroup}'s message text run unanalysed. Besides keeping the run
 *     short this is needed for hashing: Lincheck 3.7 makes {@code Object.hashCode()} 0 in analysed
 *     code but not in the test's constructor (not analysed), so a hash table keyed by devices,
 *     domains or IOMMUs filled by the fixture cannot be searched from analysed code (the driver's
 *     and the registry's tables are).</li>
 * <li>{@code IdentityHashMap} runs unanalysed: reading its {@code NULL_KEY} sentinel (any key
 *     iteration) makes Lincheck 3.7 track that object in the {@code IdentityHashMap} of its
 *     snapshot tracker, where it reads back as a null key: {@code SnapshotTracker.restoreValues}
 *     then fails with a NullPointerException.</li>
 * <li>The invariant watch (the JUnit extension's {@link CoreWatch} on every core) is detached: it
 *     iterates identity maps after every call, and its gate lock would be part of the checked code.</li>
 * <li>Physical memory is 64 MiB: Lincheck walks the object graph of every instance it makes.</li>
 * </ul>
 */
@Param(name = "dom", gen = IntGen.class, conf = "0:1")
@Param(name = "dev", gen = IntGen.class, conf = "0:1")
@Param(name = "owner", gen = IntGen.class, conf = "0:1")
public class GroupOpsLincheckTest {
    /** Owner tokens compared by identity, as {@code group->owner} is. */
    private final Object[] owners = {new Token("vfio"), new Token("iommufd")};

    /** 64 MiB of memory, not 4 GiB: Lincheck walks every instance's object graph, the direct map included. */
    private final Fixture f = new Fixture(CoreConfig.defaults(), MockConfig.builder("M").build(), 1L << 26);
    private final PlatformDevice[] devs = new PlatformDevice[2];
    private final IommuDomain[] doms = new IommuDomain[2];
    private final IommuGroup group;
    /** WARNs seen on each thread, counted by a trace listener. */
    private final ThreadLocal<int[]> warnedHere = ThreadLocal.withInitial(() -> new int[1]);

    /** A named owner token (so the state reads the same in every run). */
    private record Token(String name) {
        @Override
        public String toString() {
            return name;
        }
    }

    public GroupOpsLincheckTest() {
        // the invariant watch the JUnit extension puts on every core (see the class comment)
        CoreWatch watch = InvariantWatch.of(f.core);
        if (watch != null) {
            watch.detach();
        }
        devs[0] = f.plat("a");
        devs[1] = f.plat("b");
        f.m.groupWith(devs[1], devs[0]);
        f.boot(devs);
        group = f.group(devs[0]);
        doms[0] = f.core.pagingDomainAlloc(devs[0]);
        doms[1] = f.core.pagingDomainAlloc(devs[0]);
        unlocked();
        f.core.addTraceListener(e -> {
            if (e.kind() == TraceEvent.Kind.WARN) {
                warnedHere.get()[0]++;
            }
        });
    }

    /** Hook of the racy variant: swaps in a mutex that locks nothing. */
    void unlocked() {
    }

    /** The call's outcome: 0, or its negative errno; {@code W} appended when it WARNed. */
    private String outcome(Runnable call) {
        int[] warned = warnedHere.get();
        int before = warned[0];
        String r;
        try {
            call.run();
            r = "0";
        } catch (IommuException e) {
            r = String.valueOf(e.errno().neg());
        }
        // WARNs made on this thread only (the core's trace listeners run on the thread that WARNs):
        // the core's global warning list would give this call the other thread's WARNs too
        return warned[0] > before ? r + "W" : r;
    }

    @Operation
    public String attachGroup(@Param(name = "dom") int i) {
        return outcome(() -> f.core.attachGroup(doms[i], group));
    }

    @Operation
    public String detachGroup(@Param(name = "dom") int i) {
        return outcome(() -> f.core.detachGroup(doms[i], group));
    }

    @Operation
    public String replaceDomain(@Param(name = "dom") int i) {
        return outcome(() -> f.core.groupReplaceDomain(group, doms[i]));
    }

    @Operation
    public String attachDevice(@Param(name = "dom") int i, @Param(name = "dev") int d) {
        return outcome(() -> f.core.attachDevice(doms[i], devs[d]));
    }

    @Operation
    public String groupClaim(@Param(name = "owner") int o) {
        return outcome(() -> f.core.groupClaimDmaOwner(group, owners[o]));
    }

    @Operation
    public String groupRelease() {
        return outcome(() -> f.core.groupReleaseDmaOwner(group));
    }

    @Operation
    public String deviceClaim(@Param(name = "dev") int d, @Param(name = "owner") int o) {
        return outcome(() -> f.core.deviceClaimDmaOwner(devs[d], owners[o]));
    }

    @Operation
    public String deviceRelease(@Param(name = "dev") int d) {
        return outcome(() -> f.core.deviceReleaseDmaOwner(devs[d]));
    }

    @Operation
    public String useDefault(@Param(name = "dev") int d) {
        return outcome(() -> f.core.deviceUseDefaultDomain(devs[d]));
    }

    @Operation
    public String unuseDefault(@Param(name = "dev") int d) {
        return outcome(() -> f.core.deviceUnuseDefaultDomain(devs[d]));
    }

    /**
     * The group's domain (d0, d1, default, blocking), owner and owner_cnt, under its mutex: the
     * fields {@link IommuCore#snapshot()} reads for it, without the snapshot's other locks and
     * tables (half the model checker's time).
     */
    @Operation
    public String state() {
        group.mutex.lock();
        try {
            IommuDomain d = group.domain;
            String dom = d == null ? "none" : d == doms[0] ? "d0" : d == doms[1] ? "d1"
                    : d == group.defaultDomain ? "default" : d == group.blockingDomain ? "blocking" : "other";
            return dom + " owner=" + group.owner + " cnt=" + group.ownerCnt;
        } finally {
            group.mutex.unlock();
        }
    }

    @Test
    @DisplayName("group ops on a two-device group: every interleaving of 2 threads x 3 calls is linearizable (attach/detach/replace, claims and releases, use/unuse)")
    void modelChecking() {
        options().check(GroupOpsLincheckTest.class);
    }

    static ModelCheckingOptions options() {
        return new ModelCheckingOptions()
                .iterations(10)
                .invocationsPerIteration(200)
                .threads(2)
                .actorsPerThread(3)
                .addGuarantee(forClasses(GroupOpsLincheckTest::notGroupLogic).allMethods().treatAsAtomic())
                .addGuarantee(forClasses("org.jiommu.core.Tracer").methods(m -> !m.equals("call")).ignore())
                .addGuarantee(forClasses("java.util.IdentityHashMap").allMethods().ignore())
                .addGuarantee(forClasses("org.jiommu.core.IommuGroup").methods("describe", "toString")
                        .ignore());
    }

    /** Classes that are not the group logic: run as atomic calls (see the class comment). */
    static boolean notGroupLogic(String cls) {
        return cls.startsWith("org.jiommu.core.CoreRegistry")
                || cls.startsWith("org.jiommu.core.spi.")
                || cls.startsWith("org.jiommu.driver.")
                || cls.startsWith("org.jiommu.hw.")
                || cls.startsWith("org.jiommu.pgtable.")
                || cls.startsWith("org.jiommu.mem.")
                || cls.startsWith("org.jiommu.bus.")
                || cls.startsWith("org.jiommu.base.");
    }

    /**
     * The same calls on a group whose mutex locks nothing (replaced by reflection after the
     * probe): two claims can both see the group unowned, an attach and a claim can both pass
     * their checks. Lincheck must find a result no serial order gives.
     */
    @Param(name = "dom", gen = IntGen.class, conf = "0:1")
    @Param(name = "dev", gen = IntGen.class, conf = "0:1")
    @Param(name = "owner", gen = IntGen.class, conf = "0:1")
    public static class Unlocked extends GroupOpsLincheckTest {
        @Override
        void unlocked() {
            try {
                Field m = IommuGroup.class.getDeclaredField("mutex");
                m.setAccessible(true);
                m.set(groupOf(this), new NoLock());
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static IommuGroup groupOf(GroupOpsLincheckTest t) {
        return t.f.group(t.devs[0]);
    }

    /**
     * A {@code group->mutex} that excludes no one. It still knows which threads are inside it (a
     * per-thread hold count), for the core's lock assertions: {@code GroupLocks.lock} refuses a
     * mutex the caller already holds (a recursive lock), and the driver-side lookups WARN when it
     * is not held. (Answering "held" to every thread made every call fail with "recursive locking",
     * so the racy variant checked nothing.)
     */
    static final class NoLock extends ReentrantLock {
        private final ThreadLocal<int[]> holds = ThreadLocal.withInitial(() -> new int[1]);

        @Override
        public void lock() {
            holds.get()[0]++;
        }

        @Override
        public void lockInterruptibly() {
            lock();
        }

        @Override
        public boolean tryLock() {
            lock();
            return true;
        }

        @Override
        public boolean tryLock(long timeout, TimeUnit unit) {
            lock();
            return true;
        }

        @Override
        public void unlock() {
            int[] h = holds.get();
            if (h[0] == 0) {
                throw new IllegalMonitorStateException();
            }
            h[0]--;
        }

        @Override
        public boolean isHeldByCurrentThread() {
            return holds.get()[0] > 0;
        }

        @Override
        public int getHoldCount() {
            return holds.get()[0];
        }
    }

    @Test
    @DisplayName("the same check finds a race once the group's mutex locks nothing")
    void unlockedGroupIsCaught() {
        // no minimisation of the failing scenario: only that there is one matters here (saves a third)
        assertThatThrownBy(() -> options().minimizeFailedScenario(false).check(Unlocked.class))
                .isInstanceOf(AssertionError.class).hasMessageContaining("Invalid execution results");
    }

    @Test
    @DisplayName("the fixture: one group of two devices, two unmanaged domains, the default domain attached")
    void fixture() {
        GroupOpsLincheckTest t = new GroupOpsLincheckTest();
        assertThat(t.f.group(t.devs[1])).isSameAs(t.group);
        assertThat(t.state()).isEqualTo("default owner=null cnt=0");
        assertThat(t.attachDevice(0, 0)).isEqualTo(String.valueOf(org.jiommu.base.Errno.EINVAL.neg()));
        assertThat(List.of(t.groupClaim(0), t.groupClaim(1), t.attachGroup(0), t.state()))
                .containsExactly("0", String.valueOf(org.jiommu.base.Errno.EPERM.neg()), "0", "d0 owner=vfio cnt=1");
    }
}
