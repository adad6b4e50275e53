package org.jiommu.check;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jiommu.base.Errno;
import org.jiommu.base.Hex;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.Device;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.Warning;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.platform.IommuKinds;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.StressPlant;

/**
 * A seeded, randomized concurrency run against one platform: several threads attach, detach,
 * replace, claim and release ownership (group and device level), use and unuse the default
 * domain, and map and unmap page ranges, on a shared set of groups (singletons, a two-device
 * group, a require_direct device, a PCI function) and shared paging domains. With
 * {@link Config#pasids()} they also churn the part-2 calls ({@link PasidChurn}): PASID
 * attach/replace/detach, global PASIDs, device features, shared aux domains, SVA bonds of a few
 * processes that exit, and I/O page faults with their responses. Every thread is a well-behaved
 * caller: it gives back only what it holds and maps only in its own IOVA window, so every error
 * must be one the kernel gives a legal caller racing others (per call, {@link #RACE_ERRORS} and
 * {@link PasidChurn}'s lists). A {@link CoreWatch} checks the invariants after every call (under
 * its gate, so each check sees whole calls); any WARN fails the run; at the end one thread tears
 * everything down and the frame allocator must be back at its baseline (I10) with no violation.
 *
 * <p>The seed fixes what every thread does; the interleaving is the scheduler's. A run that is not
 * clean says so with its seed and the last calls of every thread ({@link Result#trace()}).
 *
 * <p>{@link Config#serial()} runs the same workers under a seeded scheduler instead: each worker
 * still runs on its own thread, but only one at a time, for one step, in an order drawn from the
 * seed ({@link SerialScheduler}). Such a run is a function of its seed alone, so a proof that "the
 * checker catches planted bug X" holds on every run, whatever the machine's load.
 */
public final class StressHarness {
    /** Errors a legal caller may get from a part-1 call when another thread got there first. */
    static final Set<Errno> RACE_ERRORS = EnumSet.of(Errno.EBUSY, Errno.EPERM, Errno.EINVAL);
    private static final long WINDOW = 1L << 32;
    static final int SLOTS = 4;
    /** Runs on a kind with the hardware agreement: calls of each worker between two quiescent points (I7 checks). */
    static final int QUIESCE = 100;
    /** Calls kept for the failure trace. */
    private static final int TRACE_LENGTH = 48;

    private StressHarness() {
    }

    /**
     * A bug planted on purpose, to show that the run reports it (StressTest): {@link #NONE} for
     * real runs, {@link #ROGUE_PASID_FREE} (a caller bug, any kind), or one of the run's kind's
     * plants by name ({@link #named}; each kind documents its own, docs/check.md 4).
     */
    public record Plant(String name) {
        /** Nothing planted. */
        public static final Plant NONE = new Plant("none");
        /** A caller frees the global PASID of a bound process behind its back (I-MM-PASID, I-PASID-RANGE). */
        public static final Plant ROGUE_PASID_FREE = new Plant("rogue-pasid-free");

        public Plant {
            if (name == null || name.isEmpty()) {
                throw new IllegalArgumentException("a plant needs a name");
            }
        }

        /** The run's kind's plant called {@code name} ({@code IommuUnits.plants()}). */
        public static Plant named(String name) {
            return new Plant(name);
        }

        /** Whether the harness plants it itself (not the kind). */
        boolean harness() {
            return equals(NONE) || equals(ROGUE_PASID_FREE);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /**
     * The plants a run on {@code kind} can plant, name to a one-line description: the harness's
     * own and the kind's ({@code IommuUnits.plants()}, read from a stress bed built for the
     * purpose). @throws IllegalArgumentException if no such kind is registered
     */
    public static Map<String, String> plants(String kind) {
        Map<String, String> out = new LinkedHashMap<>();
        out.put(Plant.ROGUE_PASID_FREE.name(), "a caller frees a bound process's global PASID behind its back"
                + " (I-MM-PASID); any kind, with the PASID calls");
        StressBed bed = IommuKinds.require(kind).stressBed(new StressBed.Shape(1, true));
        for (IommuUnits u : bed.platform().units()) {
            new TreeMap<>(u.plants()).forEach((name, p) -> out.putIfAbsent(name, p.description().isEmpty()
                    ? (p.when() == StressPlant.When.BUILD ? "planted when the platform is built"
                    : "planted at the first quiescent point") : p.description()));
        }
        return out;
    }

    /**
     * Why {@code plant} cannot be planted on {@code bed} (a bed of a file's own platform may lack
     * what it needs: the device a kind's plant names on its built-in bed, DMA lanes, the PASID
     * churn), or null when it can: a run refuses it rather than plant nothing
     * ({@link StressPlant#unplantable}; {@code jiommu stress FILE --plant} exits 2 with it).
     *
     * @throws IllegalArgumentException if the bed's kinds have no plant of that name
     */
    public static String unplantable(Plant plant, StressBed bed) {
        if (plant.equals(Plant.NONE)) {
            return null;
        }
        if (plant.equals(Plant.ROGUE_PASID_FREE)) {
            return bed.shape().pasids() && !bed.pasidDevices().isEmpty() ? null
                    : "its rogue caller frees a bound process's PASID, and the bed has no PASID churn (a shared PCI"
                    + " function with PASIDs and PRI)";
        }
        for (IommuUnits u : bed.platform().units()) {
            StressPlant p = u.plants().get(plant.name());
            if (p != null) {
                return p.unplantable(bed);
            }
        }
        throw new IllegalArgumentException("no stress plant '" + plant.name() + "' on this platform");
    }

    /**
     * Calls between two whole-platform checks of a run's watch at most (the checks between look
     * at each call's scope only, {@link CoreWatch#checkIncrementally}).
     */
    public static final int CHECK_PERIOD = 64;

    /** The kind a run uses unless it says otherwise. */
    public static final String DEFAULT_KIND = "mock";

    /**
     * What to run.
     *
     * @param seed fixes every thread's choices
     * @param threads worker threads (4 or more for the proof)
     * @param opsPerThread calls each thread makes
     * @param domains shared paging domains
     * @param pasids whether the part-2 calls are churned too
     * @param plant a bug to plant, {@link Plant#NONE} for a real run
     * @param kind the IOMMU kind whose stress bed the run uses ({@code IommuKind.stressBed}); on a
     *     kind with the hardware agreement the run adds DMA lanes and I7 at quiescent points
     * @param serial one worker step at a time, in an order drawn from the seed (a deterministic
     *     run), instead of free-running threads
     * @param bedSource where the run's bed comes from instead of the kind's built-in one (a
     *     scenario file's own platform, {@link PlatformBed}), or null; called once per run
     * @param checkPeriod the watch checks incrementally with a whole-platform check at least every
     *     this many calls ({@link CoreWatch#checkIncrementally}, default {@link #CHECK_PERIOD}); 0
     *     checks the whole platform after every call
     */
    public record Config(long seed, int threads, int opsPerThread, int domains, boolean pasids, Plant plant,
                         String kind, boolean serial, Function<StressBed.Shape, StressBed> bedSource,
                         int checkPeriod) {
        public Config {
            if (threads < 1 || opsPerThread < 0 || domains < 1 || plant == null || kind == null || checkPeriod < 0) {
                throw new IllegalArgumentException("bad stress config " + threads + "/" + opsPerThread + "/" + domains
                        + "/" + plant + "/" + kind + "/" + checkPeriod);
            }
        }

        /** A run checked incrementally with the default period. */
        public Config(long seed, int threads, int opsPerThread, int domains, boolean pasids, Plant plant,
                      String kind, boolean serial, Function<StressBed.Shape, StressBed> bedSource) {
            this(seed, threads, opsPerThread, domains, pasids, plant, kind, serial, bedSource, CHECK_PERIOD);
        }

        /** The same run, its watch checking the whole platform at least every {@code period} calls (0: every call). */
        public Config checkingEvery(int period) {
            return new Config(seed, threads, opsPerThread, domains, pasids, plant, kind, serial, bedSource, period);
        }

        /** A run on the built-in stress bed of {@code kind}. */
        public Config(long seed, int threads, int opsPerThread, int domains, boolean pasids, Plant plant,
                      String kind, boolean serial) {
            this(seed, threads, opsPerThread, domains, pasids, plant, kind, serial, null);
        }

        /** A run on the default (mock) kind. */
        public Config(long seed, int threads, int opsPerThread, int domains, boolean pasids, Plant plant) {
            this(seed, threads, opsPerThread, domains, pasids, plant, DEFAULT_KIND, false);
        }

        /** A part-1 run (attach, ownership, map), as before issue 4. */
        public Config(long seed, int threads, int opsPerThread, int domains) {
            this(seed, threads, opsPerThread, domains, false, Plant.NONE);
        }

        /** The same run with the part-2 calls. */
        public Config withPasids() {
            return new Config(seed, threads, opsPerThread, domains, true, plant, kind, serial, bedSource, checkPeriod);
        }

        /** The same run with a planted bug. */
        public Config planting(Plant p) {
            return new Config(seed, threads, opsPerThread, domains, pasids, p, kind, serial, bedSource, checkPeriod);
        }

        /** The same churn on the stress bed of IOMMU kind {@code k}. */
        public Config on(String k) {
            return new Config(seed, threads, opsPerThread, domains, pasids, plant, k, serial, null, checkPeriod);
        }

        /**
         * The same churn on kind {@code k} of a platform other than its built-in bed: each run
         * builds a fresh one with {@code platform} (a scenario file's, booted) and derives the
         * bed's roles from the devices behind its IOMMUs named {@code iommus} ({@link
         * PlatformBed#derive}); {@code dmaApiDrivers} names the devices it binds a DMA-API driver to.
         */
        public Config on(String k, Supplier<Platform> platform, Set<String> iommus, Set<String> dmaApiDrivers) {
            return new Config(seed, threads, opsPerThread, domains, pasids, plant, k, serial,
                    shape -> PlatformBed.build(platform, k, iommus, shape, dmaApiDrivers), checkPeriod);
        }

        /** The bed of a run of this shape: the source's, or the kind's built-in one. */
        StressBed bed(StressBed.Shape shape) {
            return bedSource != null ? bedSource.apply(shape) : IommuKinds.require(kind).stressBed(shape);
        }

        /**
         * The same workers under the seeded serial scheduler: one step at a time, so the run
         * (every call, every result, every DMA outcome) depends on the seed alone.
         */
        public Config serialised() {
            return new Config(seed, threads, opsPerThread, domains, pasids, plant, kind, true, bedSource, checkPeriod);
        }
    }

    /**
     * What happened.
     *
     * @param seed the seed
     * @param calls core calls made by the workers
     * @param errors IommuExceptions the workers got, by "op errno"
     * @param unexpected every other failure (exceptions, wrong unmap sizes, errors no race explains)
     * @param reports the watch's reports for this platform
     * @param finalViolations the state invariants after teardown
     * @param baseline frame statistics before any domain
     * @param after frame statistics after teardown
     * @param checks invariant checks the watch ran
     * @param transitionChecks of which with the transition invariants (no overlapping call)
     * @param successes calls that succeeded, by op
     * @param warnings the WARNs the core recorded during the run and teardown
     * @param trace the last calls the workers made, oldest first ("t2 SVA_BIND q1 mm1 -> EBUSY")
     * @param hardwareChecks kinds with the agreement: I7 checks run (quiescent points, before and after teardown);
     *     their violations are in {@code unexpected} ("I7 ...")
     * @param dmaChecks kinds with DMA lanes: DMAs the workers checked against their own mappings (a wrong outcome
     *     is in {@code unexpected}, "DMA ...")
     * @param repro a serial run: its state-changing calls as scenario steps up to its first problem
     *     ({@link ReproLog}); null for a free run
     */
    public record Result(long seed, long calls, Map<String, Long> errors, List<String> unexpected,
                         List<CoreWatch.Report> reports, List<Violation> finalViolations,
                         FrameAllocator.Stats baseline, FrameAllocator.Stats after, long checks, long transitionChecks,
                         Map<String, Long> successes, List<String> warnings, List<String> trace,
                         long hardwareChecks, long dmaChecks, ReproLog repro, long workerCpuNanos) {
        /**
         * Everything that went wrong, one line each: unexpected outcomes, watch reports, WARNs,
         * violations after teardown, frames not back at the baseline (empty for a clean run).
         */
        public List<String> problems() {
            List<String> out = new ArrayList<>(unexpected);
            reports.forEach(r -> out.add("watch: " + r));
            warnings.forEach(x -> out.add("WARN: " + x));
            finalViolations.forEach(v -> out.add("after teardown: " + v));
            if (after.allocatedBytes() != baseline.allocatedBytes() || after.liveBlocks() != baseline.liveBlocks()) {
                out.add("I10: frames " + baseline.allocatedBytes() + " bytes in " + baseline.liveBlocks() + " blocks before, "
                        + after.allocatedBytes() + " bytes in " + after.liveBlocks() + " blocks after teardown");
            }
            return out;
        }

        /** Nothing went wrong. */
        public boolean clean() {
            return unexpected.isEmpty() && reports.isEmpty() && finalViolations.isEmpty() && warnings.isEmpty()
                    && after.allocatedBytes() == baseline.allocatedBytes() && after.liveBlocks() == baseline.liveBlocks();
        }

        @Override
        public String toString() {
            String s = "stress seed " + seed + ": " + calls + " calls, errors " + errors + ", " + checks + " checks ("
                    + transitionChecks + " with transitions), unexpected " + unexpected + ", warnings " + warnings
                    + ", reports " + reports + ", final " + finalViolations + ", frames " + baseline.allocatedBytes()
                    + " -> " + after.allocatedBytes() + " bytes"
                    + (hardwareChecks + dmaChecks > 0 ? ", " + hardwareChecks + " I7 checks, " + dmaChecks + " DMAs" : "");
            return clean() ? s : s + "\n  last calls (seed " + seed + "):\n    " + String.join("\n    ", trace);
        }
    }

    /**
     * The counters of a run as it goes, for a progress line (the {@code jiommu stress} command):
     * core calls made, DMAs checked and problems found so far. Read from any thread; one per run.
     */
    public static final class Progress {
        final AtomicLong calls = new AtomicLong();
        final AtomicLong dmaChecks = new AtomicLong();
        final List<String> unexpected = Collections.synchronizedList(new ArrayList<>());

        public long calls() {
            return calls.get();
        }

        public long dmaChecks() {
            return dmaChecks.get();
        }

        /** Unexpected outcomes so far (watch reports and WARNs are only counted at the end). */
        public long problems() {
            return unexpected.size();
        }
    }

    /** What the workers share besides the platform: counters, outcomes and the trace. */
    static final class Run {
        final List<String> unexpected;
        final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> successes = new ConcurrentHashMap<>();
        final AtomicLong calls;
        final AtomicLong hardwareChecks = new AtomicLong();
        /** CPU time the free run's worker threads used (their calls and every check of them). */
        final AtomicLong workerCpuNanos = new AtomicLong();
        final AtomicLong dmaChecks;
        /** A serial run's calls as scenario steps (null in a free run, whose order is the machine's). */
        final ReproLog repro;

        Run(Progress p, ReproLog repro) {
            this.unexpected = p.unexpected;
            this.calls = p.calls;
            this.dmaChecks = p.dmaChecks;
            this.repro = repro;
        }

        /** Logs a step of the reproducing scenario (serial runs only). */
        void log(String op, String expect, String... keyValues) {
            if (repro != null) {
                repro.add(op, expect, null, keyValues);
            }
        }
        /** The last calls, for the failure trace. Guarded by itself. */
        private final Deque<String> trace = new ArrayDeque<>();

        void call() {
            calls.incrementAndGet();
        }

        void ok(Object op) {
            successes.computeIfAbsent(op.toString(), k -> new AtomicLong()).incrementAndGet();
        }

        void error(Object op, IommuException e) {
            errors.computeIfAbsent(op + " " + e.errno(), k -> new AtomicLong()).incrementAndGet();
        }

        void trace(int tid, String what) {
            synchronized (trace) {
                if (trace.size() == TRACE_LENGTH) {
                    trace.removeFirst();
                }
                trace.addLast("t" + tid + " " + what);
            }
        }

        List<String> traceLines() {
            synchronized (trace) {
                return List.copyOf(trace);
            }
        }
    }

    /** What one worker holds, so it only gives back its own. */
    static final class Holdings {
        /** Group claims (VFIO-style) and device claims (iommufd-style) use different owners, as in the kernel. */
        final Object groupToken;
        final Object deviceToken;
        final Set<IommuGroup> groupClaims = Collections.newSetFromMap(new LinkedHashMap<>());
        final Map<Device, Integer> deviceClaims = new LinkedHashMap<>();
        final Map<Device, Integer> uses = new LinkedHashMap<>();
        /** (domain index, slot) -> mapped size. */
        final Map<Long, Long> mapped = new TreeMap<>();
        final PasidChurn.Holdings part2 = new PasidChurn.Holdings();
        /** The worker's own DMA lane (null when the kind has none). */
        DmaLane.Holdings lane;

        Holdings(int t) {
            this.groupToken = "vfio-" + t;
            this.deviceToken = "iommufd-" + t;
        }
    }

    /** Runs one seed. */
    public static Result run(Config cfg) {
        return run(cfg, new Progress());
    }

    /** Runs one seed, counting into {@code progress} as it goes (a fresh one per run). */
    public static Result run(Config cfg, Progress progress) {
        // the watch must see the core from its creation: its trace view learns the devices'
        // first domains from the probe's attach_dev calls (the tests install it anyway)
        InvariantWatch.install();
        StressWorld w = new StressWorld(cfg);
        CoreWatch watch = InvariantWatch.watch(w.core);
        // the watch uses the platform's exact view and I10 after every call where the frame
        // baseline means "no domain"; elsewhere it replays the core's trace
        boolean exact = w.platform.exactFrames();
        if (exact) {
            watch.usePlatform(w.platform);
        }
        watch.checkIncrementally(cfg.checkPeriod());
        FrameAllocator.Stats baseline = w.baseline;
        int warningsBefore = w.core.warningCount();
        Run run = new Run(progress, cfg.serial() ? new ReproLog() : null);
        logSetup(w, cfg, run);
        List<Holdings> holdings = new ArrayList<>();
        // on a kind with the hardware agreement: every QUIESCE calls of each worker all of them
        // meet, and I7 is checked with no call running
        int[] point = new int[1];
        Runnable quiesce = !w.quiescentPoints() ? null : () -> {
            point[0]++;
            w.quiesce("quiescent point " + point[0], run);
            if (point[0] == 1 && w.kindPlant != null && w.kindPlant.when() == StressPlant.When.FIRST_QUIESCENT_POINT) {
                w.kindPlant.plant(w.bed);
                watch.invalidate(); // the plant wrote the platform outside any core call
                run.log("plant", null, "name", cfg.plant().name());
            }
        };
        List<Worker> workers = new ArrayList<>();
        for (int t = 0; t < cfg.threads(); t++) {
            Holdings h = new Holdings(t);
            if (!w.lanes.isEmpty()) {
                h.lane = new DmaLane.Holdings(w.lanes.get(t));
            }
            holdings.add(h);
            workers.add(new Worker(w, h, t, new Random(cfg.seed() * 1_000_003L + t), run));
        }
        if (cfg.serial()) {
            new SerialScheduler(cfg, workers, quiesce, run, () -> firstProblem(run, watch)).run();
        } else {
            runFree(cfg, workers, quiesce, run);
        }
        if (quiesce != null) {
            w.quiesce("the end of the run", run);
        }
        // the incremental watch's last whole check before the teardown changes everything
        watch.checkWhole("the end of the workers' calls");
        if (w.pasids) {
            PasidChurn.teardown(w, holdings, run);
        }
        teardown(w, holdings, run.unexpected);
        if (quiesce != null) {
            w.quiesce("teardown", run);
            if (w.pasids) {
                w.afterTeardown(run);
            }
        }
        List<Violation> fin = InvariantChecker.checkState(exact ? PlatformState.of(w.platform) : watch.capture(), null);
        List<CoreWatch.Report> reports = new ArrayList<>();
        for (CoreWatch.Report r : InvariantWatch.pending()) {
            if (r.core().equals(watch.label())) {
                reports.add(r);
            }
        }
        List<String> warnings = new ArrayList<>();
        List<Warning> all = w.core.warnings();
        for (Warning x : all.subList(Math.min(warningsBefore, all.size()), all.size())) {
            warnings.add(x.toString());
        }
        return new Result(cfg.seed(), run.calls.get(), counts(run.errors), List.copyOf(run.unexpected), reports, fin,
                baseline, w.frames.stats(), watch.checks(), watch.transitionChecks(), counts(run.successes),
                warnings, run.traceLines(), run.hardwareChecks.get(), run.dmaChecks.get(), run.repro,
                run.workerCpuNanos.get());
    }

    /**
     * The reproducing scenario's first steps: the shared paging domains ({@code d0}, {@code d1},
     * ... as the workers' log names them) and a plant made when the platform is built.
     */
    private static void logSetup(StressWorld w, Config cfg, Run run) {
        if (run.repro == null) {
            return;
        }
        for (int i = 0; i < w.domains.size(); i++) {
            run.repro.add("iommu_paging_domain_alloc", null, domainName(i), "dev", w.devices.get(0).name());
        }
        if (w.kindPlant != null && w.kindPlant.when() == StressPlant.When.BUILD) {
            run.log("plant", null, "name", cfg.plant().name());
        }
    }

    /** The name the reproducing scenario binds shared domain {@code i} to. */
    static String domainName(int i) {
        return "d" + i;
    }

    /** The run's first problem so far (an unexpected outcome or a watch report on its core), or null. */
    private static String firstProblem(Run run, CoreWatch watch) {
        synchronized (run.unexpected) {
            if (!run.unexpected.isEmpty()) {
                return run.unexpected.get(0);
            }
        }
        for (CoreWatch.Report r : InvariantWatch.pending()) {
            if (r.core().equals(watch.label())) {
                return "watch: " + r;
            }
        }
        return null;
    }

    /** One worker: its holdings, its seeded choices, and one step of the mix at a time. */
    static final class Worker {
        final StressWorld w;
        final Holdings h;
        final int tid;
        final Random rnd;
        final Run run;

        Worker(StressWorld w, Holdings h, int tid, Random rnd, Run run) {
            this.w = w;
            this.h = h;
            this.tid = tid;
            this.rnd = rnd;
            this.run = run;
        }

        /**
         * Step {@code i} of the worker. On a kind with quiescent points (I7) a quarter of the
         * steps go to its DMA lane if it has one, and a failure is recorded and the worker
         * carries on, so every worker reaches every quiescent point.
         */
        void step() {
            if (!w.quiescentPoints()) {
                oneCall(w, h, tid, rnd, run);
                return;
            }
            try {
                if (h.lane != null && rnd.nextInt(4) == 0) {
                    DmaLane.step(w, h, tid, rnd, run);
                } else {
                    oneCall(w, h, tid, rnd, run);
                }
            } catch (RuntimeException | AssertionError e) {
                run.unexpected.add("thread " + tid + ": " + e);
            }
        }
    }

    /** Each free worker's CPU time (user + system) is read from here when it ends. */
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    /** Free-running threads: the interleaving is the JVM's and the machine's. */
    private static void runFree(Config cfg, List<Worker> workers, Runnable quiesce, Run run) {
        CountDownLatch start = new CountDownLatch(1);
        CyclicBarrier quiet = quiesce == null ? null : new CyclicBarrier(cfg.threads(), quiesce);
        List<Thread> threads = new ArrayList<>();
        for (Worker wk : workers) {
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    for (int i = 0; i < cfg.opsPerThread(); i++) {
                        wk.step();
                        if (quiet != null && i % QUIESCE == QUIESCE - 1) {
                            quiet.await();
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (Throwable e) {
                    run.unexpected.add("thread " + wk.tid + ": " + e);
                } finally {
                    // the speed figure that a loaded machine does not blur (docs/PERFORMANCE.md)
                    long cpu = THREADS.isCurrentThreadCpuTimeSupported() ? THREADS.getCurrentThreadCpuTime() : -1;
                    if (cpu > 0) {
                        run.workerCpuNanos.addAndGet(cpu);
                    }
                }
            }, "stress-" + cfg.seed() + "-" + wk.tid);
            threads.add(th);
            th.start();
        }
        start.countDown();
        join(threads, run);
    }

    static void join(List<Thread> threads, Run run) {
        for (Thread th : threads) {
            try {
                th.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                run.unexpected.add("interrupted while joining " + th.getName());
            }
        }
    }

    /** One part-1 or (with PASIDs, half the time) part-2 call. */
    private static void oneCall(StressWorld w, Holdings h, int tid, Random rnd, Run run) {
        if (w.pasids && rnd.nextInt(2) == 0) {
            PasidChurn.step(w, h, tid, rnd, run);
        } else {
            step(w, h, tid, rnd, run);
        }
    }

    private static Map<String, Long> counts(Map<String, AtomicLong> m) {
        Map<String, Long> out = new TreeMap<>();
        m.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    private enum Op {
        ATTACH_GROUP, ATTACH_DEVICE, DETACH_GROUP, REPLACE, GROUP_CLAIM, GROUP_RELEASE, DEVICE_CLAIM,
        DEVICE_RELEASE, USE, UNUSE, MAP, UNMAP
    }

    private static final Op[] OPS = Op.values();

    private static void step(StressWorld w, Holdings h, int tid, Random rnd, Run run) {
        Op op = OPS[rnd.nextInt(OPS.length)];
        IommuGroup g = w.groups.get(rnd.nextInt(w.groups.size()));
        Device dev = w.devices.get(rnd.nextInt(w.devices.size()));
        int di = rnd.nextInt(w.domains.size());
        IommuDomain d = w.domains.get(di);
        int slot = rnd.nextInt(SLOTS);
        IommuCore core = w.core;
        String what = op + " ";
        try {
            switch (op) {
                case ATTACH_GROUP:
                    what += d + " " + g;
                    run.call();
                    core.attachGroup(d, g);
                    run.log("iommu_attach_group", null, "domain", domainName(di), "group", w.groupName(g));
                    break;
                case ATTACH_DEVICE:
                    what += d + " " + dev;
                    run.call();
                    core.attachDevice(d, dev);
                    run.log("iommu_attach_device", null, "domain", domainName(di), "dev", dev.name());
                    break;
                case DETACH_GROUP:
                    what += d + " " + g;
                    run.call();
                    core.detachGroup(d, g);
                    run.log("iommu_detach_group", null, "domain", domainName(di), "group", w.groupName(g));
                    break;
                case REPLACE:
                    what += g + " " + d;
                    run.call();
                    core.groupReplaceDomain(g, d);
                    run.log("iommu_group_replace_domain", null, "group", w.groupName(g), "domain", domainName(di));
                    break;
                case GROUP_CLAIM:
                    if (h.groupClaims.contains(g)) {
                        return;
                    }
                    what += g;
                    run.call();
                    core.groupClaimDmaOwner(g, h.groupToken);
                    run.log("iommu_group_claim_dma_owner", null, "group", w.groupName(g), "owner", h.groupToken.toString());
                    h.groupClaims.add(g);
                    break;
                case GROUP_RELEASE: {
                    if (h.groupClaims.isEmpty()) {
                        return;
                    }
                    IommuGroup held = h.groupClaims.iterator().next();
                    what += held;
                    // a legal owner detaches the PASIDs of the group before it lets it go
                    if (!w.releaseGate(held, () -> {
                        run.call();
                        core.groupReleaseDmaOwner(held);
                        run.log("iommu_group_release_dma_owner", null, "group", w.groupName(held));
                    })) {
                        return;
                    }
                    h.groupClaims.remove(held);
                    break;
                }
                case DEVICE_CLAIM:
                    what += dev;
                    run.call();
                    core.deviceClaimDmaOwner(dev, h.deviceToken);
                    run.log("iommu_device_claim_dma_owner", null, "dev", dev.name(), "owner", h.deviceToken.toString());
                    h.deviceClaims.merge(dev, 1, Integer::sum);
                    break;
                case DEVICE_RELEASE: {
                    if (h.deviceClaims.isEmpty()) {
                        return;
                    }
                    Device cd = h.deviceClaims.keySet().iterator().next();
                    what += cd;
                    if (!w.releaseGate(core.groupGet(cd), () -> {
                        run.call();
                        core.deviceReleaseDmaOwner(cd);
                        run.log("iommu_device_release_dma_owner", null, "dev", cd.name());
                    })) {
                        return;
                    }
                    drop(h.deviceClaims, cd);
                    break;
                }
                case USE:
                    what += dev;
                    run.call();
                    core.deviceUseDefaultDomain(dev);
                    run.log("iommu_device_use_default_domain", null, "dev", dev.name());
                    h.uses.merge(dev, 1, Integer::sum);
                    break;
                case UNUSE: {
                    if (h.uses.isEmpty()) {
                        return;
                    }
                    Device ud = h.uses.keySet().iterator().next();
                    what += ud;
                    // a DMA-API driver unbinds SVA and PASIDs before its device (iommu_device_unuse_default_domain WARNs)
                    if (!w.releaseGate(core.groupGet(ud), () -> {
                        run.call();
                        core.deviceUnuseDefaultDomain(ud);
                        run.log("iommu_device_unuse_default_domain", null, "dev", ud.name());
                    })) {
                        return;
                    }
                    drop(h.uses, ud);
                    break;
                }
                case MAP: {
                    long key = (long) di * SLOTS + slot;
                    if (h.mapped.containsKey(key)) {
                        return;
                    }
                    long size = (1 + rnd.nextInt(8)) * 0x1000L;
                    what += d + " " + Long.toHexString(iova(tid, slot)) + "+" + Long.toHexString(size);
                    run.call();
                    core.map(d, iova(tid, slot), w.pa(tid, slot), size, Prot.RW);
                    run.log("iommu_map", null, "domain", domainName(di), "iova", Hex.of(iova(tid, slot)),
                            "paddr", Hex.of(w.pa(tid, slot)), "size", Hex.of(size), "prot", "[read, write]");
                    h.mapped.put(key, size);
                    break;
                }
                case UNMAP: {
                    long key = (long) di * SLOTS + slot;
                    Long size = h.mapped.get(key);
                    if (size == null) {
                        return;
                    }
                    what += d + " " + Long.toHexString(iova(tid, slot)) + "+" + Long.toHexString(size);
                    DmaLane.beforeUnmap(w, h, tid, di, slot, run);
                    run.call();
                    long u = core.unmap(d, iova(tid, slot), size);
                    run.log("iommu_unmap", "{value: " + Hex.of(u) + "}", "domain", domainName(di), "iova",
                            Hex.of(iova(tid, slot)), "size", Hex.of(size));
                    h.mapped.remove(key);
                    DmaLane.afterUnmap(w, h, tid, di, slot, run);
                    if (u != size) {
                        run.unexpected.add("thread " + tid + ": unmap of its own " + size + " bytes gave " + u);
                    }
                    break;
                }
                default:
                    throw new AssertionError(op);
            }
            run.ok(op);
            run.trace(tid, what + " -> ok");
        } catch (IommuException e) {
            run.error(op, e);
            run.trace(tid, what + " -> " + e.errno());
            boolean race = RACE_ERRORS.contains(e.errno()) && op != Op.MAP && op != Op.UNMAP;
            // the kind's driver may refuse a legal call too (arm-smmu: a map before the first attach)
            boolean kindAllows = w.bed.allowedErrors().getOrDefault(op.name(), Set.of()).contains(e.errno());
            if (!race && !kindAllows) {
                run.unexpected.add("thread " + tid + " " + op + ": " + e.getMessage());
            }
        }
    }

    /** Each worker maps only in its own window, one slot of 32 pages per (domain, slot). */
    static long iova(int tid, int slot) {
        return (tid + 1) * WINDOW + slot * 0x20000L;
    }

    private static void drop(Map<Device, Integer> m, Device d) {
        if (m.merge(d, -1, Integer::sum) == 0) {
            m.remove(d);
        }
    }

    /** Gives back everything, frees every domain and releases every device (one thread). */
    private static void teardown(StressWorld w, List<Holdings> holdings, List<String> unexpected) {
        IommuCore core = w.core;
        try {
            for (int t = 0; t < holdings.size(); t++) {
                Holdings h = holdings.get(t);
                for (IommuGroup g : h.groupClaims) {
                    core.groupReleaseDmaOwner(g);
                }
                h.deviceClaims.forEach((d, n) -> {
                    for (int i = 0; i < n; i++) {
                        core.deviceReleaseDmaOwner(d);
                    }
                });
                h.uses.forEach((d, n) -> {
                    for (int i = 0; i < n; i++) {
                        core.deviceUnuseDefaultDomain(d);
                    }
                });
                for (Map.Entry<Long, Long> e : h.mapped.entrySet()) {
                    int di = (int) (e.getKey() / SLOTS);
                    int slot = (int) (e.getKey() % SLOTS);
                    long u = core.unmap(w.domains.get(di), iova(t, slot), e.getValue());
                    if (u != e.getValue()) {
                        unexpected.add("teardown: unmap of " + e.getValue() + " bytes gave " + u);
                    }
                }
            }
            for (IommuGroup g : w.allGroups()) {
                core.detachGroup(g.domain(), g);
                if (g.ownerCnt() != 0) {
                    unexpected.add("teardown: " + g + " still has owner_cnt " + g.ownerCnt());
                }
            }
            for (IommuDomain d : w.domains) {
                core.domainFree(d);
            }
            if (w.iopfDomain != null && !w.domains.contains(w.iopfDomain)) {
                core.domainFree(w.iopfDomain);
            }
            for (IommuDomain d : w.auxDomains) {
                core.domainFree(d);
            }
            for (Device d : w.allDevices()) {
                core.deviceDel(d);
            }
            if (!core.liveDomains().isEmpty()) {
                unexpected.add("teardown: domains left " + core.liveDomains());
            }
        } catch (RuntimeException e) {
            unexpected.add("teardown: " + e);
        }
    }
}
