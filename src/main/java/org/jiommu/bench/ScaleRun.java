package org.jiommu.bench;

import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;

/**
 * {@code jiommu bench scale}: a platform the size of a big server, built phase by phase through
 * the core as the kernel would (PCI scan and probe, PASID attach, map), with the time and the
 * Java heap each phase costs, and DMA translation on it compared with the small platform's.
 *
 * <p>Shape (issue 17): {@code buses} root buses of {@code perBus} root-complex integrated
 * functions each, behind {@code units} VT-d units in scalable mode (one DRHD per bus range);
 * one paging domain per unit, attached to PASIDs 1..{@code pasidsPerDevice} of every function of
 * that unit; {@code map2M} bytes mapped with 2M pages and {@code map4K} bytes with 4K pages,
 * spread evenly over the domains. Heap figures are taken after a full GC, so they are retained
 * sizes, page-table frames included (a frame of simulated memory is a Java {@code long[512]}).
 */
public final class ScaleRun {
    static final long SZ_4K = 1L << 12;
    static final long SZ_2M = 1L << 21;
    static final long SZ_1G = 1L << 30;
    /** 2M mappings live from 1 TiB of IOVA, 4K mappings from 64 TiB (both inside 48 bits). */
    static final long IOVA_2M = 1L << 40;
    static final long IOVA_4K = 1L << 46;
    /** Output of every 2M chunk: 2M-aligned, not 1G-aligned, so the core picks 2M pages, never 1G. */
    static final long PA_2M = SZ_2M;
    /** Output of every 4K chunk: 4K-aligned, not 2M-aligned, so the core picks 4K pages. */
    static final long PA_4K = SZ_4K;

    /** What to build. */
    public record Spec(int units, int buses, int perBus, int pasidsPerDevice, int pasidBits, long map2M,
                       long map4K, long memoryBytes, boolean dmaDefault) {
        /**
         * The server: 4 units, 256 buses x 256 functions (64 K), 16 PASIDs each (1 M),
         * 1 TiB in 2M pages plus 64 GiB in 4K pages. Simulated memory 3 GiB, the smallest that
         * works: FrameAllocator's pool is the top quarter of memory (768 MiB here) and this
         * platform needs 646 MiB of page-table frames (two per PASID-capable function, for its
         * PASID directory and first PASID table, as the kernel allocates; ~33 K leaf tables).
         * The rest of simulated memory is never touched and costs no heap.
         */
        public static Spec server() {
            return new Spec(4, 256, 256, 16, 5, 1L << 40, 64L << 30, 3L << 30, false);
        }

        /** A 1/1024 scale model of {@link #server()} (the test's: same phases, seconds not minutes). */
        public static Spec tiny() {
            return new Spec(4, 8, 8, 16, 5, 1L << 30, 64L << 20, 1L << 30, false);
        }

        public int devices() {
            return buses * perBus;
        }

        public long pasids() {
            return (long) devices() * pasidsPerDevice;
        }
    }

    /**
     * One phase's cost: wall-clock seconds, and the CPU seconds the JVM spent in it (the figure
     * to read on a shared machine, where waiting for a core inflates the wall clock).
     */
    public record Phase(String name, double seconds, double cpuSeconds, long heapAfter, long framesAfter) {
    }

    /** Everything the run measured. */
    public record Report(Spec spec, List<Phase> phases, double bytesPerDevice, double bytesPerPasid,
                         double bytesPer4K, double bytesPer2M, Result smallTranslate, Result scaleTranslate) {
        /** Translations on the scale platform relative to the small one (median over median). */
        public double translateRatio() {
            return scaleTranslate.median() / smallTranslate.median();
        }
    }

    private ScaleRun() {
    }

    public static Report run(Spec spec, Budget translateBudget, PrintWriter log) {
        List<Phase> phases = new ArrayList<>();
        long heap0 = heapUsed();
        PlatformAdapter.ScaleMachine m = PlatformAdapter.scaleMachine(spec.units(), spec.buses(),
                spec.memoryBytes(), spec.dmaDefault());
        IommuCore core = m.core();

        long[] t = start();
        List<PciDevice> devs = m.populate(spec.perBus(), spec.pasidBits());
        phases.add(phase("PCI topology: " + devs.size() + " functions", t, m, log));

        t = start();
        m.boot();
        phases.add(phase("boot: add and probe " + devs.size() + " functions", t, m, log));
        long heapDevices = phases.get(phases.size() - 1).heapAfter();

        // One paging domain per unit, allocated for the unit's first function.
        IommuDomain[] domains = new IommuDomain[spec.units()];
        t = start();
        for (PciDevice d : devs) {
            int u = m.unitIndex(d);
            if (domains[u] == null) {
                domains[u] = core.pagingDomainAlloc(d);
                // The translate window: [IOVA, +64 pages) -> PA, the same on every unit.
                core.map(domains[u], TranslateFixture.IOVA, TranslateFixture.PA, TranslateFixture.PAGES * SZ_4K,
                        Prot.RW);
            }
            for (int pasid = 1; pasid <= spec.pasidsPerDevice(); pasid++) {
                core.attachDevicePasid(domains[u], d, pasid);
            }
        }
        phases.add(phase("attach " + spec.pasids() + " PASIDs (" + spec.pasidsPerDevice() + " per function, "
                + spec.units() + " domains)", t, m, log));
        long heapPasids = phases.get(phases.size() - 1).heapAfter();

        t = start();
        mapSpread(core, domains, IOVA_2M, PA_2M, spec.map2M());
        phases.add(phase("map " + size(spec.map2M()) + " with 2M pages", t, m, log));
        long heap2M = phases.get(phases.size() - 1).heapAfter();

        t = start();
        mapSpread(core, domains, IOVA_4K, PA_4K, spec.map4K());
        phases.add(phase("map " + size(spec.map4K()) + " with 4K pages", t, m, log));
        long heap4K = phases.get(phases.size() - 1).heapAfter();

        // Translation: the last function's PASID 1 on the big machine, against one function on
        // a one-unit machine; the same fixture and harness.
        PciDevice last = devs.get(devs.size() - 1);
        Result scale = Harness.measure(translateCase("scale/translate-hit", () -> new TranslateFixture(
                m.target(last), 1)), translateBudget);
        PlatformAdapter.ScaleMachine small = PlatformAdapter.scaleMachine(1, 1, 1L << 30, spec.dmaDefault());
        PciDevice one = small.populate(1, spec.pasidBits()).get(0);
        small.boot();
        IommuDomain sd = small.core().pagingDomainAlloc(one);
        small.core().map(sd, TranslateFixture.IOVA, TranslateFixture.PA, TranslateFixture.PAGES * SZ_4K, Prot.RW);
        small.core().attachDevicePasid(sd, one, 1);
        Result smallR = Harness.measure(translateCase("small/translate-hit", () -> new TranslateFixture(
                small.target(one), 1)), translateBudget);

        long devices = spec.devices();
        return new Report(spec, phases, (double) (heapDevices - heap0) / devices,
                (double) (heapPasids - heapDevices) / spec.pasids(),
                (double) (heap4K - heap2M) / (spec.map4K() / SZ_4K),
                (double) (heap2M - heapPasids) / (spec.map2M() / SZ_2M), smallR, scale);
    }

    private static BenchCase translateCase(String name, java.util.function.Supplier<Fixture> f) {
        return new BenchCase(name, "PASID DMA translate, IOTLB hit", BenchCase.Unit.MOPS_PER_S, f, null);
    }

    /**
     * {@code bytes} split evenly over the domains, mapped in 1 GiB calls (or one smaller call);
     * every call maps to the same output window (an IOVA range is what costs page-table memory,
     * not where it points).
     */
    private static void mapSpread(IommuCore core, IommuDomain[] domains, long iovaBase, long pa, long bytes) {
        long each = bytes / domains.length;
        for (IommuDomain d : domains) {
            for (long off = 0; off < each; off += SZ_1G) {
                core.map(d, iovaBase + off, pa, Math.min(SZ_1G, each - off), Prot.RW);
            }
        }
    }

    private static Phase phase(String name, long[] t0, PlatformAdapter.ScaleMachine m, PrintWriter log) {
        double s = (System.nanoTime() - t0[0]) / 1e9;
        double cpu = (cpuNanos() - t0[1]) / 1e9;
        long heap = heapUsed();
        Phase p = new Phase(name, s, cpu, heap, m.framesAllocated());
        log.printf("%-62s %6.1f s (cpu %6.1f s)   heap %5d MiB   page-table frames %4d MiB%n", name, s, cpu,
                heap >> 20, p.framesAfter() >> 20);
        log.flush();
        return p;
    }

    /** Now, as {wall, this thread's CPU} nanoseconds. */
    private static long[] start() {
        return new long[] {System.nanoTime(), cpuNanos()};
    }

    /**
     * CPU time of the whole JVM (GC and JIT threads included, so an allocation-heavy phase pays
     * for its collections); -1 where the platform does not say.
     */
    private static long cpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    /** Heap in use after a full collection (retained bytes). */
    static long heapUsed() {
        for (int i = 0; i < 2; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    static String size(long bytes) {
        if (bytes >= 1L << 40 && bytes % (1L << 40) == 0) {
            return (bytes >> 40) + " TiB";
        }
        if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        return (bytes >> 20) + " MiB";
    }

    /** The summary under the phase lines. */
    public static String summary(Report r) {
        StringBuilder sb = new StringBuilder();
        Spec s = r.spec();
        sb.append(String.format("%d VT-d units, %d buses x %d functions = %d functions, %d PASIDs, %s in 2M pages + "
                        + "%s in 4K pages; simulated memory %s; max heap %d MiB%n", s.units(), s.buses(), s.perBus(),
                s.devices(), s.pasids(), size(s.map2M()), size(s.map4K()), size(s.memoryBytes()),
                Runtime.getRuntime().maxMemory() >> 20));
        double total = r.phases().stream().mapToDouble(Phase::seconds).sum();
        double cpu = r.phases().stream().mapToDouble(Phase::cpuSeconds).sum();
        sb.append(String.format("all phases: %.1f s (cpu %.1f s); heap after all phases: %d MiB%n", total, cpu,
                r.phases().get(r.phases().size() - 1).heapAfter() >> 20));
        sb.append(String.format("heap per function (topology, core, driver, PASID directory and table): %.0f B%n",
                r.bytesPerDevice()));
        sb.append(String.format("heap per attached PASID: %.0f B%n", r.bytesPerPasid()));
        sb.append(String.format("heap per mapped 4K page: %.2f B; per mapped 2M page: %.2f B%n", r.bytesPer4K(),
                r.bytesPer2M()));
        sb.append(String.format("PASID DMA translate (IOTLB hit): small platform %.1f M/s ± %.0f%%, this platform "
                        + "%.1f M/s ± %.0f%%: %.0f%% of the small platform's rate%n", r.smallTranslate().median(),
                r.smallTranslate().spreadPercent(), r.scaleTranslate().median(), r.scaleTranslate().spreadPercent(),
                r.translateRatio() * 100));
        return sb.toString();
    }
}
