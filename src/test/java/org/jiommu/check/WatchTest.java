package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.CoreCorruption;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/** The watch really runs after every public call, reports what it finds, and fails the test. */
class WatchTest {

    private static TestExecutionSummary run(String className) {
        LauncherDiscoveryRequest req = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(className)).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(req, listener);
        return listener.getSummary();
    }

    @Test
    @DisplayName("every public call is checked once, with its transition, on the trace hardware view")
    void countsOneCheckPerCall() {
        TestPlatform p = new TestPlatform();
        CoreWatch w = p.watch();
        assertThat(w).isNotNull();
        long calls0 = w.calls();
        long checks0 = w.checks();
        PlatformDevice a = p.plat("a"); // fwspec_init, device_add
        IommuDomain d = p.core.pagingDomainAlloc(a);
        p.core.attachDevice(d, a);
        p.core.map(d, 0x10000, 0x40000, 0x3000, Prot.RW);
        assertThat(p.core.unmap(d, 0x10000, 0x3000)).isEqualTo(0x3000);
        p.core.detachDevice(d, a);
        p.core.domainFree(d);
        assertThat(w.calls() - calls0).isEqualTo(8);
        assertThat(w.checks() - checks0).isEqualTo(8);
        assertThat(w.transitionChecks()).isEqualTo(w.checks());
        assertThat(w.reported()).isZero();
        assertThat(w.checkNow()).isEmpty();
    }

    @Test
    @DisplayName("the trace view alone (no platform given) follows the core's attaches")
    void traceView() {
        org.jiommu.core.IommuCore core = new org.jiommu.core.IommuCore();
        CoreWatch w = InvariantWatch.of(core);
        org.jiommu.mem.FrameAllocator frames = new org.jiommu.mem.FrameAllocator(
                new org.jiommu.mem.PhysicalMemory(1L << 30));
        org.jiommu.driver.mock.MockIommuDriver m = new org.jiommu.driver.mock.MockIommuDriver(
                org.jiommu.driver.mock.MockConfig.builder("T").build(), core.services(),
                org.jiommu.driver.mock.MockPageTableFactory.armLpae(frames, core.services().warnings()));
        core.iommuDeviceRegister(m.iommu());
        PlatformDevice a = new PlatformDevice("a", List.of(1), 0);
        core.fwspecInit(a, m.iommu());
        core.deviceAdd(a);
        IommuDomain d = core.pagingDomainAlloc(a);
        core.attachDevice(d, a);
        PlatformState s = w.capture();
        assertThat(s.hw()).isInstanceOf(TraceHardwareView.class);
        assertThat(s.hw().rid(a)).isSameAs(d).isSameAs(m.programmed(a));
        core.deviceDel(a);
        assertThat(w.capture().hw().rid(a)).isSameAs(m.blockedDomain()).isSameAs(m.programmed(a));
        assertThat(w.reported()).isZero();
    }

    @Test
    @DisplayName("a corruption is reported after the next public call, naming the invariant")
    void reportsAfterNextCall() {
        TestPlatform p = new TestPlatform();
        PlatformDevice a = p.plat("a");
        IommuDomain id = p.m.identityDomain();
        id.ops().attachDev().attachDev(id, a, null); // behind the core's back
        assertThat(InvariantWatch.pending()).isEmpty(); // nothing checks between calls
        p.core.groupDmaOwnerClaimed(p.group(a));
        List<CoreWatch.Report> reports = InvariantWatch.drain();
        assertThat(reports).hasSize(1);
        assertThat(reports.get(0).call()).startsWith("iommu_group_dma_owner_claimed");
        assertThat(reports.get(0).violations()).extracting(Violation::invariant).containsExactly(Invariant.UNIFORM);
    }

    @Test
    @DisplayName("a WARN excuses the damage it comes with, also later; new damage is still reported")
    void warnExcuses() {
        TestPlatform p = new TestPlatform();
        PlatformDevice a = p.plat("a");
        PlatformDevice b = p.plat("b");
        IommuDomain d = p.core.pagingDomainAlloc(a);
        p.core.attachDevice(d, a);
        IommuDomain def = p.group(a).defaultDomain();
        p.m.failAttach(def, a, Errno.ENOMEM);
        int w0 = p.core.warningCount();
        p.core.detachDevice(d, a); // MUST_SUCCEED: the group records def, the hardware stays on d, WARN
        assertThat(p.core.warningCount()).isGreaterThan(w0);
        assertThat(p.m.programmed(a)).isSameAs(d);
        CoreWatch w = p.watch();
        long excused = w.excused();
        assertThat(excused).isPositive();
        p.core.groupDmaOwnerClaimed(p.group(b));
        assertThat(w.excused()).isGreaterThan(excused); // the same I-UNIFORM again: still excused
        assertThat(InvariantWatch.pending()).isEmpty();
        CoreCorruption.setOwner(p.group(b), "x", 0);
        p.core.groupDmaOwnerClaimed(p.group(b));
        List<CoreWatch.Report> r = InvariantWatch.drain();
        assertThat(r).hasSize(1);
        assertThat(r.get(0).violations()).extracting(Violation::invariant).contains(Invariant.OWNER)
                .doesNotContain(Invariant.UNIFORM);
        CoreCorruption.setOwner(p.group(b), null, 0);
        p.m.clearFaults();
    }

    @Test
    @DisplayName("a call left by an unexpected exception (no RETURN) does not stop later checks")
    void survivesEscapedException() {
        TestPlatform p = new TestPlatform();
        PlatformDevice a = p.plat("a");
        IommuGroup g = p.group(a);
        CoreWatch w = p.watch();
        CoreCorruption.lockGroup(g);
        try {
            assertThatThrownBy(() -> p.core.groupClaimDmaOwner(g, "x")).isInstanceOf(IllegalStateException.class);
        } finally {
            CoreCorruption.unlockGroup(g);
        }
        long checks = w.checks();
        p.core.groupClaimDmaOwner(g, "x");
        p.core.groupReleaseDmaOwner(g);
        assertThat(w.checks()).isEqualTo(checks + 2);
        assertThat(w.capture()).isNotNull(); // the gate is free again
    }

    @Test
    @DisplayName("a sample core test class runs green with a check after each of its calls")
    void sampleCoreTestIsChecked() {
        long checks = CoreWatch.totalChecks();
        long calls = CoreWatch.totalCalls();
        TestExecutionSummary s = run("org.jiommu.core.ProbeTest");
        assertThat(s.getTestsFoundCount()).isGreaterThan(10);
        assertThat(s.getTotalFailureCount()).as(s.getFailures().toString()).isZero();
        // every test makes calls (at least fwspec_init and a probe), and every call was checked
        long ran = CoreWatch.totalChecks() - checks;
        assertThat(ran).isGreaterThan(2 * s.getTestsSucceededCount());
        assertThat(ran).isEqualTo(CoreWatch.totalCalls() - calls);
    }

    @Test
    @DisplayName("a test that breaks an invariant fails with the violation list")
    void failingSample() {
        TestExecutionSummary s = run(BrokenSample.class.getName());
        assertThat(s.getTestsFoundCount()).isEqualTo(1);
        assertThat(s.getTotalFailureCount()).isEqualTo(1);
        Throwable t = s.getFailures().get(0).getException();
        assertThat(t).isInstanceOf(AssertionError.class).hasMessageContaining("I-UNIFORM: a is programmed for M.identity")
                .hasMessageContaining("after iommu_group_dma_owner_claimed(group0)");
    }

    @Test
    @DisplayName("a jqwik property whose tries break an invariant is falsified with the violation list")
    void failingProperty() {
        TestExecutionSummary s = run(BrokenProperty.class.getName());
        assertThat(s.getTestsFoundCount()).isEqualTo(1);
        assertThat(s.getTotalFailureCount()).isEqualTo(1);
        assertThat(s.getFailures().get(0).getException()).hasMessageContaining("I-OWNER: group0 has owner x but owner_cnt 0");
    }

    /** Run only through {@link #failingProperty}. */
    static class BrokenProperty {
        @net.jqwik.api.Property(tries = 3, shrinking = net.jqwik.api.ShrinkingMode.OFF)
        @net.jqwik.api.Label("breaks I-OWNER")
        void breaksOwner(@net.jqwik.api.ForAll @net.jqwik.api.constraints.IntRange(min = 0, max = 3) int n) {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            CoreCorruption.setOwner(p.group(a), "x", 0);
            p.core.groupDmaOwnerClaimed(p.group(a));
        }
    }

    /** Run only through {@link #failingSample} (surefire skips nested classes). */
    static class BrokenSample {
        @Test
        void breaksUniform() {
            TestPlatform p = new TestPlatform();
            PlatformDevice a = p.plat("a");
            IommuDomain id = p.m.identityDomain();
            id.ops().attachDev().attachDev(id, a, null);
            p.core.groupDmaOwnerClaimed(p.group(a));
        }
    }
}
