package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * S05 under contention (the race Jonathan Cameron asked about in seed 001): many threads attach
 * one domain as aux to their own device and detach it again, so final detaches keep racing new
 * first attaches. The default PASID must never be missing for a live attachment, never be freed
 * twice (a second free is an {@code ida_free} WARN) and never leak.
 */
class AuxConcurrencyTest {
    @Test
    @DisplayName("S05 final aux detach racing new aux attaches from 8 threads: PASID never leaked, never freed twice, never missing")
    void finalDetachRacesAttach() throws Exception {
        Fixture f = new Fixture();
        int threads = 8;
        int iterations = 250;
        List<PciDevice> devs = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            PciDevice d = f.pci("d" + i);
            f.core.deviceAdd(d);
            f.core.devEnableFeature(d, DevFeature.AUX);
            devs.add(d);
        }
        IommuDomain dom = f.core.pagingDomainAlloc(devs.get(0));
        CyclicBarrier start = new CyclicBarrier(threads);
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicInteger attaches = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            PciDevice dev = devs.get(t);
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    for (int i = 0; i < iterations; i++) {
                        f.core.auxAttachDevice(dom, dev);
                        attaches.incrementAndGet();
                        int p = f.core.auxGetPasid(dom, dev);
                        // while this attachment lives its PASID is allocated and programmed
                        if (!f.core.globalPasids().containsKey(p)) {
                            throw new AssertionError("PASID " + p + " of a live aux attachment is not allocated");
                        }
                        if (f.m.programmedPasid(dev, p) != dom) {
                            throw new AssertionError(dev + " PASID " + p + " is not programmed with " + dom);
                        }
                        f.core.auxDetachDevice(dom, dev);
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
        assertThat(errors).isEmpty();
        assertThat(attaches.get()).isEqualTo(threads * iterations);
        assertThat(f.core.warnings()).isEmpty(); // no double free (ida_free WARN), no failed removal
        assertThat(f.core.globalPasids()).isEmpty(); // no leak
        for (PciDevice d : devs) {
            assertThat(f.group(d).pasidArray).isEmpty();
            assertThat(f.m.snapshot().pasids()).doesNotContainKey(d);
        }
        // the domain is an ordinary free domain again
        f.core.domainFree(dom);
    }
}
