package org.jiommu.dma;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.UnitSpec;

/**
 * The kernel's {@code dma_map_benchmark} (kernel/dma/map_benchmark.c) on the model: threads
 * map and unmap a buffer of {@code granule} pages in a loop for a number of seconds against one
 * VT-d PCI device, each thread on its own CPU (so its own IOVA caches and flush-queue ring);
 * the result is the mean and standard deviation of the map and of the unmap latency. With
 * {@code devices} > 1 the machine has that many endpoints, each behind its own root port (its own
 * group and DMA domain), and thread {@code t} maps for endpoint {@code t mod devices}: the kernel
 * tool run on several devices at once.
 *
 * <p>Figures are wall-clock and depend on the machine and its load: this class reports, it
 * never asserts speed.
 */
public final class DmaMapBenchmark {
    /**
     * What to run.
     *
     * @param threads mapping threads, one CPU each
     * @param granulePages pages per mapping ({@code granule} in the kernel tool)
     * @param seconds how long each thread loops
     * @param maxLoops stop a thread after this many map/unmap pairs (0: no limit), for short runs
     * @param strict iommu.strict=1 (else DMA-FQ, lazy)
     * @param dir the mapping direction
     * @param warmup pairs each thread runs before the timed loop, one thread after another
     *     ({@link #warmMap}), divided by the granule pages; 0 for none, as the kernel tool
     * @param jitSeconds how long every thread runs the loop untimed, all at once, after that
     *     warm-up: the JIT compiles the path meanwhile (a JVM's warm-up, as JMH's warm-up
     *     iterations; the kernel tool runs compiled C and needs none); 0 for none
     * @param devices endpoints (1..{@value #MAX_DEVICES}), each with its own default domain;
     *     thread {@code t} uses endpoint {@code t mod devices}
     */
    public record Options(int threads, int granulePages, double seconds, long maxLoops, boolean strict,
                          DmaDirection dir, int warmup, double jitSeconds, int devices) {
        /** The default warm-up: {@link #WARMUP_BUFFERS} buffers per thread. */
        public static final int DEFAULT_WARMUP = WARMUP_BUFFERS;
        /**
         * The command's default JIT warm-up: on this kind of machine the compiled path reaches its
         * steady rate 3 to 4 s after the start (the first second runs at about a third of it).
         */
        public static final double DEFAULT_JIT_SECONDS = 4;
        /** Endpoints at most (one root port each, device numbers 0x10..0x1f of the root bus). */
        public static final int MAX_DEVICES = 16;

        public Options {
            if (threads < 1 || threads > 64 || granulePages < 1 || granulePages > 1024 || seconds < 0 || maxLoops < 0
                    || warmup < 0 || warmup > 1 << 16 || !(jitSeconds >= 0 && jitSeconds <= 600) || devices < 1
                    || devices > MAX_DEVICES) {
                throw new IllegalArgumentException("threads 1..64, granule 1..1024 pages, seconds >= 0, warm-up 0..65536,"
                        + " JIT warm-up 0..600 s, devices 1.." + MAX_DEVICES);
            }
        }

        /** One device, as the kernel tool. */
        public Options(int threads, int granulePages, double seconds, long maxLoops, boolean strict, DmaDirection dir,
                       int warmup, double jitSeconds) {
            this(threads, granulePages, seconds, maxLoops, strict, dir, warmup, jitSeconds, 1);
        }

        /** With the default buffer warm-up and no JIT warm-up (short runs: tests). */
        public Options(int threads, int granulePages, double seconds, long maxLoops, boolean strict, DmaDirection dir) {
            this(threads, granulePages, seconds, maxLoops, strict, dir, DEFAULT_WARMUP, 0);
        }
    }

    /**
     * Buffers a thread holds mapped at once in its warm-up: two 2 MiB leaf tables' worth of 4K
     * pages, more than a CPU's two magazines (2 x 127) and its flush-queue ring (255) hold.
     */
    public static final int WARMUP_BUFFERS = 1024;

    /**
     * Mean and standard deviation of each call in nanoseconds, over every thread's loops; and the
     * threads' CPU time per pair ({@code cpuNsPerPair}: the sum of each thread's CPU time in its
     * timed loop over all loops, timing included), which on a busy machine says what the wall
     * clock cannot: whether a pair costs more CPU when threads run it at once (lines moving
     * between cores, spinning); 0 where the JVM cannot measure thread CPU time.
     */
    public record Result(Options options, long loops, double mapMeanNs, double mapStddevNs, double unmapMeanNs,
                         double unmapStddevNs, double cpuNsPerPair) {
        /** The kernel tool's two lines, in ns instead of its 100 ns units, and the CPU time per pair. */
        public String format() {
            return String.format("dma_map_benchmark: %s, threads %d,%s granule %d page(s), %d loops%n"
                            + "average map latency: %.1f ns, standard deviation %.1f%n"
                            + "average unmap latency: %.1f ns, standard deviation %.1f%n"
                            + "thread CPU time per map+unmap pair: %.1f ns%n%s%s",
                    options.strict() ? "strict" : "lazy (DMA-FQ)", options.threads(),
                    options.devices() == 1 ? "" : " devices " + options.devices() + " (thread t on device t mod "
                            + options.devices() + ", each its own domain),",
                    options.granulePages(), loops,
                    mapMeanNs, mapStddevNs, unmapMeanNs, unmapStddevNs, cpuNsPerPair,
                    (options.warmup() > 0
                            ? "note: each thread first mapped and held " + options.warmup()
                                    + " buffers in turn (not in the kernel tool; --warmup 0 starts cold as it does)\n"
                            : "")
                    + (options.jitSeconds() > 0
                            ? String.format("note: the threads first ran the loop untimed for %.1f s (JIT warm-up;"
                                    + " --jit-warmup 0 for none)%n", options.jitSeconds())
                            : ""),
                    (options.strict() ? "" : "note: a full flush-queue ring frees what its own flush covered;"
                            + " the kernel frees by fq_flush_finish_cnt alone (docs/dma.md)\n")
                            + alignmentNote(objectAlignment()));
        }

        /** What the JVM's object alignment means for the figures (two CPUs' objects on one line or not). */
        static String alignmentNote(int alignment) {
            return alignment >= 64
                    ? "note: objects aligned to " + alignment + " bytes in this JVM (-XX:ObjectAlignmentInBytes),"
                            + " so no two share a cache line (the kernel's hot per-CPU and slab objects are cache-line aligned)\n"
                    : "note: objects " + alignment + "-byte aligned in this JVM (--in-process): two CPUs' small"
                            + " objects can share a cache line, which halved two threads' speed in about half of the"
                            + " JVMs measured (docs/PERFORMANCE.md)\n";
        }
    }

    /** Sums of one thread's samples (Welford would be overkill: the sums fit in doubles). */
    private abstract static class SumsFields {
        long n;
        double map;
        double mapSq;
        double unmap;
        double unmapSq;
        long cpuNs;
    }

    /** One thread's sums, written on every loop: padded ({@link CpuPad}) as the layer's per-CPU data is. */
    private static final class Sums extends SumsFields {
        long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;
    }

    private DmaMapBenchmark() {
    }

    /**
     * A booted machine with its endpoints and the DMA layer on it.
     *
     * @param devs the endpoints, each behind its own root port (so its own group and default domain)
     */
    public record Machine(Platform platform, List<PciDevice> devs, DmaIommu dma) {
        /** The first endpoint (the only one of a one-device machine). */
        public PciDevice dev() {
            return devs.get(0);
        }

        /** The endpoint the thread of CPU {@code cpu} maps for. */
        public PciDevice devOf(int cpu) {
            return devs.get(cpu % devs.size());
        }
    }

    /** One scalable-mode 48-bit VT-d unit, one PCIe endpoint using the DMA API, {@code cpus} CPUs. */
    public static Machine machine(boolean strict, int cpus) {
        return machine(strict, cpus, 1);
    }

    /** As {@link #machine(boolean, int)} with {@code devices} endpoints, each behind its own root port. */
    public static Machine machine(boolean strict, int cpus, int devices) {
        long mem = 16L << 30;
        // the registered vtd kind, from the options a scenario file would give
        Platform p = Platform.build(mem, CoreConfig.builder().strict(strict).build(), List.of(new UnitSpec("dmar0",
                "vtd", Map.of("scalable", true, "address-width", 48L))));
        IommuUnits vtd = p.unitsNamed("dmar0");
        List<PciDevice> devs = new ArrayList<>();
        for (int i = 0; i < devices; i++) {
            // the first as it always was (rp0 at 00:1c.0); more at 00:10.0, 00:11.0, ... on buses 2, 3, ...
            PciDevice dev = vtd.topology().rootBus(0, 0).rootPort("rp" + i, i == 0 ? 0x1c : 0x10 + i - 1, 0, 1 + i,
                    Acs.ISOLATED).endpoint(i == 0 ? "bench" : "bench" + i, 0, 0, false, 0, false, Acs.NONE);
            p.describe(dev, "dmar0");
            vtd.enumerate(new IommuUnits.Firmware(dev, "dmar0", List.of(), List.of(), false), false);
            devs.add(dev);
        }
        p.start();
        for (PciDevice dev : devs) {
            p.core().deviceUseDefaultDomain(dev);
        }
        DmaIommu dma = new DmaIommu(p.core(), p.memory(), new SimClock(), DmaIommu.Config.defaults(mem, cpus));
        for (PciDevice dev : devs) {
            dma.dmaSetMask(dev, -1L);
        }
        return new Machine(p, List.copyOf(devs), dma);
    }

    public static Result run(Options o) throws InterruptedException {
        Machine m = machine(o.strict(), o.threads(), o.devices());
        long size = o.granulePages() * 4096L;
        Sums[] sums = new Sums[o.threads()];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CyclicBarrier start = new CyclicBarrier(o.threads());
        java.util.concurrent.Semaphore[] turn = new java.util.concurrent.Semaphore[o.threads() + 1];
        for (int t = 0; t <= o.threads(); t++) {
            turn[t] = new java.util.concurrent.Semaphore(t == 0 ? 1 : 0);
        }
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        boolean cpuClock = mx.isCurrentThreadCpuTimeSupported();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < o.threads(); t++) {
            int cpu = t;
            // each thread's own buffer, as the kernel tool allocates one per thread
            long buf = 0x1_0000_0000L + (long) t * (size + (1L << 20));
            Thread th = new Thread(() -> {
                Sums s = new Sums();
                sums[cpu] = s; // read by the main thread after join
                PciDevice dev = m.devOf(cpu);
                try {
                    m.dma().bindCpu(cpu);
                    long[] held;
                    turn[cpu].acquire(); // each thread takes its warm-up IOVAs in turn, CPU 0 first
                    try {
                        held = warmMap(m, dev, buf, size, o.dir(),
                                o.warmup() == 0 ? 0 : Math.max(1, o.warmup() / o.granulePages()));
                    } finally {
                        turn[cpu + 1].release();
                    }
                    start.await();
                    warmUnmap(m, dev, held, size, o.dir());
                    start.await();
                    jitWarmUp(m, dev, buf, size, o);
                    start.await();
                    long cpu0 = cpuClock ? mx.getCurrentThreadCpuTime() : 0;
                    long deadline = System.nanoTime() + (long) (o.seconds() * 1e9);
                    do {
                        long t0 = System.nanoTime();
                        long iova = m.dma().dmaMapSingle(dev, buf, size, o.dir());
                        long t1 = System.nanoTime();
                        if (iova == DmaIommu.DMA_MAPPING_ERROR) {
                            throw new IllegalStateException("dma_map_single failed");
                        }
                        m.dma().dmaUnmapSingle(dev, iova, size, o.dir());
                        long t2 = System.nanoTime();
                        double map = t1 - t0;
                        double unmap = t2 - t1;
                        s.n++;
                        s.map += map;
                        s.mapSq += map * map;
                        s.unmap += unmap;
                        s.unmapSq += unmap * unmap;
                    } while (System.nanoTime() < deadline && (o.maxLoops() == 0 || s.n < o.maxLoops()));
                    s.cpuNs = cpuClock ? mx.getCurrentThreadCpuTime() - cpu0 : 0;
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    turn[cpu + 1].release(o.threads()); // the threads after this one still warm up and fail at the barrier
                    start.reset();
                }
            }, "dma-map-bench-" + t);
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join();
        }
        if (failure.get() != null) {
            throw new IllegalStateException("dma_map_benchmark: " + failure.get(), failure.get());
        }
        Sums all = new Sums();
        for (Sums s : sums) {
            all.n += s.n;
            all.map += s.map;
            all.mapSq += s.mapSq;
            all.unmap += s.unmap;
            all.unmapSq += s.unmapSq;
            all.cpuNs += s.cpuNs;
        }
        double mapMean = all.map / all.n;
        double unmapMean = all.unmap / all.n;
        return new Result(o, all.n, mapMean, Math.sqrt(Math.max(0, all.mapSq / all.n - mapMean * mapMean)), unmapMean,
                Math.sqrt(Math.max(0, all.unmapSq / all.n - unmapMean * unmapMean)), (double) all.cpuNs / all.n);
    }

    /** The untimed loop of {@link Options#jitSeconds}: the same calls as the timed one. */
    private static void jitWarmUp(Machine m, PciDevice dev, long buf, long size, Options o) {
        if (o.jitSeconds() <= 0) {
            return;
        }
        long deadline = System.nanoTime() + (long) (o.jitSeconds() * 1e9);
        do {
            for (int i = 0; i < 64; i++) {
                long iova = m.dma().dmaMapSingle(dev, buf, size, o.dir());
                if (iova == DmaIommu.DMA_MAPPING_ERROR) {
                    throw new IllegalStateException("dma_map_single failed in the JIT warm-up");
                }
                m.dma().dmaUnmapSingle(dev, iova, size, o.dir());
            }
        } while (System.nanoTime() < deadline);
    }

    /**
     * The first half of one thread's warm-up: {@code n} buffers mapped and held. The threads do
     * it one after another, then (after a barrier) each unmaps its own ({@link #warmUnmap}), so
     * no thread takes an IOVA another freed before the timed loops start. Why: the kernel tool's
     * threads start on an empty IOVA tree at once, and the top-down allocator then hands the two
     * CPUs alternate pfns (X, X-1, ...), which the per-CPU caches keep cycling: both threads
     * write one PTE cache line (strict: forever the same line, as a diagnostic run showed). A
     * running system's CPUs filled their caches at different times; each thread taking its first
     * IOVAs as one block of the tree gives it its own leaf-table lines (a block of 1024 pages:
     * its own 2 MiB regions but at the block's ends), the state this benchmark means to measure.
     * Later exchanges through the shared depot move whole magazines (127 neighbouring pfns of one
     * block), as in the kernel. The pairs are not counted.
     */
    static long[] warmMap(Machine m, PciDevice dev, long buf, long size, DmaDirection dir, int n) {
        long[] held = new long[n];
        for (int i = 0; i < n; i++) {
            held[i] = m.dma().dmaMapSingle(dev, buf, size, dir);
            if (held[i] == DmaIommu.DMA_MAPPING_ERROR) {
                throw new IllegalStateException("dma_map_single failed in the warm-up");
            }
        }
        return held;
    }

    /**
     * The second half: every held buffer unmapped. On a DMA-FQ domain what the CPU's ring still
     * holds is freed by the CPU's own later flushes (a full ring, or another CPU's flush seen at
     * its next queue_iova), into its own caches; no timer flush here, since fq_flush_timeout frees
     * every CPU's ring into the caches of the CPU it runs on.
     */
    static void warmUnmap(Machine m, PciDevice dev, long[] held, long size, DmaDirection dir) {
        for (int i = held.length - 1; i >= 0; i--) {
            m.dma().dmaUnmapSingle(dev, held[i], size, dir);
        }
    }

    /**
     * The object alignment of the JVM {@code jiommu bench dma-map} runs the benchmark in: two
     * cache lines, so that no two objects share a line (or an adjacent-line prefetch pair). With
     * the default 8 bytes, small objects two CPUs write (or one writes and the other reads) end
     * up side by side wherever the allocator and the collector put them, and in about half of
     * the JVMs two threads ran at half speed each (docs/PERFORMANCE.md, "Two lazy threads"); the
     * kernel's hot per-CPU and slab objects are cache-line aligned.
     */
    public static final int FORK_OBJECT_ALIGNMENT = 128;

    /** The arguments of {@link #main} that run {@code o} (after {@code --options}). */
    public static List<String> forkArgs(Options o) {
        return List.of("--options", Integer.toString(o.threads()), Integer.toString(o.granulePages()),
                Double.toString(o.seconds()), Long.toString(o.maxLoops()), o.strict() ? "strict" : "lazy",
                Integer.toString(o.warmup()), Double.toString(o.jitSeconds()), Integer.toString(o.devices()));
    }

    /** This JVM's object alignment in bytes ({@code -XX:ObjectAlignmentInBytes}); 8 if it cannot say. */
    static int objectAlignment() {
        try {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(
                    com.sun.management.HotSpotDiagnosticMXBean.class);
            return Integer.parseInt(bean.getVMOption("ObjectAlignmentInBytes").getValue());
        } catch (RuntimeException | LinkageError e) {
            return 8;
        }
    }

    /**
     * {@code java ... DmaMapBenchmark [threads] [granule pages] [seconds] [strict|lazy]}, or
     * {@code --options threads granule seconds loops strict|lazy warmup jitSeconds devices} (the
     * command's fork, {@link #forkArgs}).
     */
    public static void main(String[] args) throws InterruptedException {
        if (args.length == 9 && args[0].equals("--options")) {
            System.out.print(run(new Options(Integer.parseInt(args[1]), Integer.parseInt(args[2]),
                    Double.parseDouble(args[3]), Long.parseLong(args[4]), args[5].equals("strict"),
                    DmaDirection.BIDIRECTIONAL, Integer.parseInt(args[6]), Double.parseDouble(args[7]),
                    Integer.parseInt(args[8]))).format());
            return;
        }
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int granule = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 5;
        boolean strict = args.length <= 3 || !args[3].equals("lazy");
        System.out.print(run(new Options(threads, granule, seconds, 0, strict, DmaDirection.BIDIRECTIONAL)).format());
    }
}
