package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * S05 on VT-d under contention (the race of seed 001): threads aux-attach one domain to their own
 * ATS device and detach it again, so final detaches race new first attaches. While an attachment
 * lives its PASID is allocated, its PASID entry points at the domain and DMA with it lands where
 * the domain maps; at the end no PASID, domain id or PASID entry is left and nothing was freed
 * twice.
 */
class VtdAuxConcurrencyTest {
    private static final long PA = 0x2300_0000L;

    @Test
    @DisplayName("S05 final aux detach racing new aux attaches on VT-d from 6 threads: PASID never leaked, never freed twice, never missing")
    void finalDetachRacesAttach() throws Exception {
        VtdFixture f = VtdFixture.of(true, 48);
        f.checkEveryCall = false; // several threads: the agreement is checked at the end
        int threads = 6;
        int iterations = 120;
        List<PciDevice> devs = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            PciDevice d = VtdAuxTest.card(f, "c" + i, 2 + i);
            f.hotplug(d);
            f.core().devEnableFeature(d, DevFeature.AUX);
            devs.add(d);
        }
        VtdDomain dom = (VtdDomain) f.core().pagingDomainAlloc(devs.get(0));
        f.core().map(dom, 0x1000, PA, 0x1000, Prot.RW);
        CyclicBarrier start = new CyclicBarrier(threads);
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        List<Thread> ts = new ArrayList<>();
        for (PciDevice dev : devs) {
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    byte[] one = new byte[1];
                    for (int i = 0; i < iterations; i++) {
                        f.core().auxAttachDevice(dom, dev);
                        int p = f.core().auxGetPasid(dom, dev);
                        if (!f.core().globalPasids().containsKey(p)) {
                            throw new AssertionError("PASID " + p + " of a live aux attachment is not allocated");
                        }
                        if (f.driver().programmedPasid(dev, p) != dom) {
                            throw new AssertionError(dev + " PASID " + p + " is not programmed with " + dom);
                        }
                        DmaResult r = f.p.dma(dev).write(p, 0x1000, one, 0, 1, new DmaResult());
                        if (!r.ok() || r.firstPa() != PA) {
                            throw new AssertionError(dev + " DMA at PASID " + p + " gave fault " + r.faultCode());
                        }
                        f.core().auxDetachDevice(dom, dev);
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
        assertThat(f.core().warnings()).isEmpty(); // no double free (ida_free WARN), no DID underflow
        assertThat(f.core().globalPasids()).isEmpty();
        assertThat(dom.domainId(f.unit())).isEqualTo(-1);
        assertThat(f.unit().domainIdsInUse().cardinality()).isEqualTo(VtdIommu.FIRST_DOMAIN_ID + threads);
        assertThat(VtdHardwareAgreement.check(f.p)).isEmpty();
        f.core().domainFree(dom);
    }
}
