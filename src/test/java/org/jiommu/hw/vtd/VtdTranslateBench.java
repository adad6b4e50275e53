package org.jiommu.hw.vtd;

import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;

/**
 * A quick single-thread throughput check of the DMA path (not a test; JMH comes later):
 * {@code java -cp target/classes:target/test-classes org.jiommu.hw.vtd.VtdTranslateBench}.
 * Targets (the task's): IOTLB hit >= 20 M/s, full 4-level walk >= 5 M/s.
 */
public final class VtdTranslateBench {
    private VtdTranslateBench() {
    }

    public static void main(String[] args) {
        long n = args.length > 0 ? Long.parseLong(args[0]) : 30_000_000L;
        for (int round = 0; round < 3; round++) {
            System.out.printf("round %d%n", round);
            report("legacy IOTLB hit (4 KiB)", legacy(1024, 12), n);
            report("legacy IOTLB hit (2 MiB)", legacy(1024, 21), n);
            report("scalable first-level IOTLB hit", scalable(1024), n);
            report("legacy 4-level walk (no IOTLB)", legacy(0, 12), n / 4);
            report("scalable first-level 4-level walk (no IOTLB)", scalable(0), n / 4);
        }
    }

    private interface Run {
        long run(long n);
    }

    private static void report(String name, Run r, long n) {
        r.run(Math.min(n, 2_000_000L)); // warm up
        com.sun.management.ThreadMXBean mx =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long bytes0 = mx.getThreadAllocatedBytes(tid);
        long t0 = System.nanoTime();
        long sink = r.run(n);
        long ns = System.nanoTime() - t0;
        long bytes = mx.getThreadAllocatedBytes(tid) - bytes0;
        System.out.printf("  %-48s %7.1f M/s  (%.1f ns, %.2f bytes allocated each, sink %d)%n", name,
                n * 1e3 / ns, (double) ns / n, (double) bytes / n, sink & 1);
    }

    private static Run legacy(int iotlbEntries, int shift) {
        VtdTestBed bed = new VtdTestBed(VtdConfig.builder().scalableMode(false).iotlbEntries(iotlbEntries).build())
                .boot();
        VtdTestBed.SlTable t = bed.new SlTable(4);
        t.map(0x4000_0000L, 0x8000_0000L, shift, true, true);
        bed.setLegacyContext(0x100, legacyContext(t.root, 0, 2, 1, false));
        VtdUnit u = bed.unit;
        TranslationResult out = new TranslationResult();
        return n -> {
            long sum = 0;
            for (long i = 0; i < n; i++) {
                u.translate(0x100, DmaTranslator.NO_PASID, 0x4000_0000L + (i & 0xFF8), (i & 1) == 0, false, out);
                sum += out.pa;
            }
            return sum;
        };
    }

    private static Run scalable(int iotlbEntries) {
        VtdTestBed bed = new VtdTestBed(VtdConfig.builder().iotlbEntries(iotlbEntries).build()).boot();
        VtdTestBed.FlTable t = bed.new FlTable(4);
        t.map(0x4000_0000L, 0x8000_0000L, 12, true);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 5, pasidEntryFirstLevel(t.root, 2, 1, false));
        bed.setScalableContext(0x100, scalableContext(dir, 0, false, false, 0));
        VtdUnit u = bed.unit;
        TranslationResult out = new TranslationResult();
        return n -> {
            long sum = 0;
            for (long i = 0; i < n; i++) {
                u.translate(0x100, 5, 0x4000_0000L + (i & 0xFF8), (i & 1) == 0, false, out);
                sum += out.pa;
            }
            return sum;
        };
    }
}
