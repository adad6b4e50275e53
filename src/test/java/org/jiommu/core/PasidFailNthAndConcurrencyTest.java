package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.driver.mock.MockSnapshot;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * fail_nth over the part-2 calls (every allocation site in turn fails: the call fails cleanly and
 * leaves core, driver and invariants as they were, or succeeds once the sites are exhausted), and
 * PASID attach/replace/detach racing fault delivery on one group.
 */
class PasidFailNthAndConcurrencyTest {
    /** Runs {@code op} with the n-th allocation failing, n = 1, 2, ... until it succeeds. */
    private static void sweep(Fixture f, Consumer<Fixture> op) {
        for (int n = 1; n < 50; n++) {
            CoreSnapshot before = f.core.snapshot();
            MockSnapshot mbefore = f.m.snapshot();
            f.core.failNthAllocation(n);
            try {
                op.accept(f);
            } catch (IommuException e) {
                assertThat(f.core.failNthArmed()).as("n=%d failed without the injection: %s", n, e).isFalse();
                assertThat(f.core.snapshot()).as("n=%d", n).isEqualTo(before);
                assertThat(f.m.snapshot()).as("n=%d", n).isEqualTo(mbefore);
                continue;
            }
            f.core.failNthAllocation(0);
            Map<Device, Map<Integer, IommuDomain>> hw = f.m.snapshot().pasids();
            assertThat(PasidInvariants.check(before, f.core.snapshot(), d -> hw.getOrDefault(d, Map.of()))).isEmpty();
            return;
        }
        throw new AssertionError("never succeeded");
    }

    @Test
    @DisplayName("#64 S06 #79 fail_nth sweeps: PASID attach of an IOPF domain, aux attach, SVA bind of a second device")
    void failNth() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        PciDevice b = f.pci("b");
        f.core.deviceAdd(a);
        f.core.deviceAdd(b);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.domainSetIopfHandler(d, g -> 0);
        sweep(f, x -> x.core.attachDevicePasid(d, a, 5, new AttachHandle()));
        assertThat(f.m.programmedPasid(a, 5)).isSameAs(d);

        f.core.devEnableFeature(b, DevFeature.AUX);
        IommuDomain aux = f.core.pagingDomainAlloc(b);
        sweep(f, x -> x.core.auxAttachDevice(aux, b));
        assertThat(f.core.auxGetPasid(aux, b)).isPositive();

        MmStruct mm = new MmStruct("p", f.frames);
        f.core.svaBindDevice(a, mm); // the mm has its PASID now: a failing bind leaves nothing behind
        sweep(f, x -> x.core.svaBindDevice(b, mm));
        // the bond exists; as in the kernel, an attach error on the shared domain (here the
        // injected slot reservation) makes bind fall back to a domain of its own
        assertThat(f.core.snapshot().svaDomains().values().stream().mapToInt(CoreSnapshot.SvaDomainState::users)
                .sum()).isEqualTo(2);
    }

    @Test
    @DisplayName("#64-#72 #96 PASID attach/replace/detach on one group racing page requests: invariants hold, nothing lost")
    void racesFaults() throws Exception {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        PciDevice b = f.pci("b");
        f.m.groupWith(b, a);
        f.boot(a, b);
        IommuDomain d1 = f.core.pagingDomainAlloc(a);
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        IommuDomain faulting = f.core.pagingDomainAlloc(a);
        f.core.domainSetIopfHandler(faulting, g -> {
            f.core.iopfGroupResponse(g, PageResponse.Code.SUCCESS);
            f.core.iopfFreeGroup(g);
            return 0;
        });
        f.core.attachDevicePasid(faulting, a, 1, new AttachHandle());
        int workers = 4;
        CyclicBarrier start = new CyclicBarrier(workers + 1);
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        List<Thread> ts = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            int pasid = 10 + w;
            Device dev = w % 2 == 0 ? a : b;
            ts.add(new Thread(() -> {
                try {
                    start.await();
                    for (int i = 0; i < 300; i++) {
                        f.core.attachDevicePasid(d1, dev, pasid, new AttachHandle());
                        f.core.replaceDevicePasid(d2, dev, pasid, new AttachHandle());
                        f.core.detachDevicePasid(d2, dev, pasid);
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
        int[] reported = new int[1];
        ts.add(new Thread(() -> {
            try {
                start.await();
                for (int i = 0; !stop.get() || i < 200; i++) {
                    f.core.reportDeviceFault(a, IopfFault.withPasid(1, i & 0x1ff, true, IopfFault.PERM_READ, 0x1000));
                    reported[0]++;
                }
            } catch (Throwable e) {
                errors.add(e);
            }
        }));
        ts.forEach(Thread::start);
        for (int i = 0; i < workers; i++) {
            ts.get(i).join();
        }
        stop.set(true);
        ts.get(workers).join();
        assertThat(errors).isEmpty();
        assertThat(f.core.warnings()).isEmpty();
        assertThat(f.m.pageResponses()).hasSize(reported[0])
                .allMatch(r -> r.code() == PageResponse.Code.SUCCESS && r.pasid() == 1);
        assertThat(f.group(a).pasidEntries()).containsOnlyKeys(1);
        Map<Device, Map<Integer, IommuDomain>> hw = f.m.snapshot().pasids();
        assertThat(PasidInvariants.check(f.core.snapshot(), dev -> hw.getOrDefault(dev, Map.of()))).isEmpty();
        assertThat(f.core.snapshot().iopf().get(a).pending()).isEmpty();
    }
}
