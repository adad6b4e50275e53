package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Translation racing with remapping and invalidation. */
class VtdConcurrencyTest {
    private static final int READERS = 3;
    private static final int GENERATIONS = 1500;

    @Test
    @DisplayName("readers never see a mapping older than the last invalidation completed before they started")
    void noStaleTranslationAfterInvalidation() throws Exception {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        long iova = 0x7000;
        long base = 0x1_0000_0000L;
        long pte = t.map(iova, base, 12, true, true);
        bed.setLegacyContext(0x100, legacyContext(t.root, 0, 2, 3, false));
        bed.setLegacyContext(0x101, legacyContext(t.root, 0, 2, 3, false));
        AtomicLong published = new AtomicLong(); // generation whose invalidation has completed
        Object queueLock = new Object(); // the driver's qi->q_lock: one submitter at a time
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        List<Thread> threads = new ArrayList<>();

        for (int r = 0; r < READERS; r++) {
            int sid = 0x100 + (r & 1);
            threads.add(new Thread(() -> {
                TranslationResult res = new TranslationResult();
                try {
                    while (published.get() < GENERATIONS) {
                        long floor = published.get();
                        if (!bed.unit.translate(sid, DmaTranslator.NO_PASID, iova + 0x10, r2(sid), false, res)) {
                            problems.add("fault " + res.faultName);
                            return;
                        }
                        long gen = (res.pa - 0x10 - base) / 0x1000;
                        if (res.pa != base + gen * 0x1000 + 0x10 || gen < floor) {
                            problems.add(String.format("pa %#x: generation %d, but %d was invalidated", res.pa, gen,
                                    floor));
                            return;
                        }
                    }
                } catch (RuntimeException e) {
                    problems.add(e.toString());
                }
            }));
        }
        Thread noise = new Thread(() -> {
            // Unrelated invalidations racing with fills: they may drop fills, never keep stale ones.
            while (published.get() < GENERATIONS && problems.isEmpty()) {
                synchronized (queueLock) {
                    bed.submit(iotlbDomain(99), ccDevice(0x200, 99, 0));
                }
            }
        });
        threads.add(noise);
        threads.forEach(Thread::start);
        for (long g = 1; g <= GENERATIONS && problems.isEmpty(); g++) {
            bed.mem.writeLong(pte, slPte(base + g * 0x1000, true, true, false, false));
            synchronized (queueLock) {
                bed.submit(iotlbPage(3, iova, 0, false, false, false));
            }
            published.set(g);
        }
        published.set(GENERATIONS);
        for (Thread th : threads) {
            th.join();
        }
        assertThat(problems).isEmpty();
        assertThat(bed.pa(0x100, iova, false)).isEqualTo(base + GENERATIONS * 0x1000L);
        assertThat(bed.unit.stats().get("inv.iotlb.page")).isGreaterThanOrEqualTo(GENERATIONS);
    }

    private static boolean r2(int sid) {
        return (sid & 1) == 0; // one device reads, the other writes
    }

    @Test
    @DisplayName("scalable mode: translations of many PASIDs race with PASID-cache and PASID-IOTLB invalidations")
    void pasidChurn() throws Exception {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable a = bed.new FlTable(4);
        VtdTestBed.FlTable b = bed.new FlTable(4);
        a.map(0x1000, 0xA000_0000L, 12, true);
        b.map(0x1000, 0xB000_0000L, 12, true);
        long dir = bed.newPasidDir();
        for (int p = 1; p <= 8; p++) {
            bed.setPasidEntry(dir, p, pasidEntryFirstLevel(a.root, 2, 5, false));
        }
        bed.setScalableContext(0x300, scalableContext(dir, 0, false, false, 0));
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        AtomicLong done = new AtomicLong();
        List<Thread> readers = new ArrayList<>();
        for (int r = 0; r < READERS; r++) {
            readers.add(new Thread(() -> {
                TranslationResult res = new TranslationResult();
                int p = 1;
                try {
                    while (done.get() == 0) {
                        p = p % 8 + 1;
                        if (!bed.unit.translate(0x300, p, 0x1008, true, false, res)
                                || (res.pa != 0xA000_0008L && res.pa != 0xB000_0008L)) {
                            problems.add("pasid " + p + ": " + res.faultName + " pa " + Long.toHexString(res.pa));
                            return;
                        }
                    }
                } catch (RuntimeException e) {
                    problems.add(e.toString());
                }
            }));
        }
        readers.forEach(Thread::start);
        for (int i = 0; i < 400 && problems.isEmpty(); i++) {
            int p = i % 8 + 1;
            VtdTestBed.FlTable next = (i / 8) % 2 == 0 ? b : a;
            bed.setPasidEntry(dir, p, pasidEntryFirstLevel(next.root, 2, 5, false));
            bed.submit(pasidCache(1, 5, p), piotlbPasid(5, p));
        }
        done.set(1);
        for (Thread th : readers) {
            th.join();
        }
        assertThat(problems).isEmpty();
    }
}
