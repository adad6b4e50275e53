package org.jiommu.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jiommu.check.InvariantWatch;
import org.jiommu.check.PlatformBed;
import org.jiommu.check.StressHarness;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.IommuKinds;
import org.jiommu.scenario.DeviceSpec;
import org.jiommu.scenario.IommuSpec;
import org.jiommu.scenario.Scenario;
import org.jiommu.scenario.ScenarioSession;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code jiommu stress}: the seeded concurrent stress run ({@link StressHarness}, docs/check.md
 * 4-5) for users. Each seed runs on the stress bed of every IOMMU kind the platform has: the
 * kinds a scenario file's {@code platform:} names, or every registered kind. The command names
 * no kind itself; plants are the kinds' own (plus the harness's caller bug).
 */
@Command(name = "stress",
        mixinStandardHelpOptions = true,
        description = {
            "Run the seeded concurrent stress mix and check every call, DMA and the hardware.",
            "Workers attach/replace/detach domains, claim and release ownership, map and",
            "unmap, churn PASIDs, aux domains, SVA bonds and page faults on a scenario",
            "file's own platform (its devices and groups, for each IOMMU kind it has), or",
            "without a file (or with --builtin-bed) on the built-in stress bed of every",
            "registered kind (of the file's kinds). The invariant watch checks",
            "every core call, each lane DMA is checked against its owner's mappings and",
            "the hardware tables (I7) at quiescent points.",
        },
        footer = {
            "",
            "A free run (the default) lets the JVM interleave the workers: it finds races,",
            "but what it covers depends on the machine. --serial runs one worker step at a",
            "time in an order drawn from the seed: a seed then gives the same run anywhere.",
            "A failed serial run also writes a scenario file reproducing it (its calls as",
            "steps, delta-debugged to a minimal list) into --repro-dir, when the kind gives",
            "its bed as a scenario platform and the failure replays from the logged calls.",
            "",
            "Exit codes: 0 every run was clean; 1 a run found a violation (its kind, seed,",
            "shard, problems, last calls and the command to run it again are printed);",
            "2 bad usage or input.",
        })
public final class StressCommand implements Callable<Integer> {
    /** Calls each worker makes per run unless --ops or --seconds says otherwise. */
    static final int DEFAULT_OPS = 1000;
    /** Calls of the failure trace printed (the harness keeps more). */
    static final int TRACE_SHOWN = 16;
    /** Problems printed per failed run. */
    static final int PROBLEMS_SHOWN = 8;

    @Parameters(arity = "0..1", paramLabel = "SCENARIO.yaml",
            description = "a scenario file whose own platform (devices, groups, IOMMUs) is stressed (its steps are not run)")
    Path file;

    /** The file read, or null without one. */
    private Scenario scenario;
    /** With a file: per kind, the bed derived from its platform (roles, notes), in kind order. */
    private final Map<String, PlatformBed.Derived> fileBeds = new LinkedHashMap<>();

    @Option(names = "--threads", paramLabel = "N", description = "worker threads (default ${DEFAULT-VALUE})")
    int threads = 4;

    @ArgGroup(exclusive = true)
    Length length;

    static final class Length {
        @Option(names = "--ops", paramLabel = "N", description = "calls per worker per run (default " + DEFAULT_OPS + ")")
        Integer ops;

        @Option(names = "--seconds", paramLabel = "S",
                description = "run consecutive seeds (from --seed, or through --seeds) until S seconds have passed")
        Double seconds;
    }

    @Option(names = "--seed", paramLabel = "N", description = "the seed (default ${DEFAULT-VALUE})")
    long seed = 1;

    @Option(names = "--seeds", paramLabel = "A..B", description = "a range of seeds, both ends included")
    String seeds;

    @Option(names = "--shard", paramLabel = "I/N",
            description = "only the I-th of N equal consecutive parts of the --seeds range (I from 1)")
    String shard;

    @Option(names = "--serial", description = "one worker step at a time, in an order drawn from the seed (deterministic)")
    boolean serial;

    @Option(names = "--json", description = "one JSON object per run and a summary object, nothing else on stdout")
    boolean json;

    @Option(names = "--plant", paramLabel = "NAME",
            description = "plant a documented bug (see --list-plants); runs only on the kinds that have it")
    String plant;

    @Option(names = "--list-plants", description = "list the plants of the platform's kinds, one line each, and exit")
    boolean listPlants;

    @Option(names = "--kind", paramLabel = "KIND", split = ",",
            description = "stress only these IOMMU kinds (comma-separated names, as the runs print them)")
    List<String> onlyKinds;

    @Option(names = "--check-every", paramLabel = "N",
            description = "check the whole platform at least every N calls, each call's own groups and devices in"
                    + " between; 0 checks the whole platform after every call (default ${DEFAULT-VALUE})")
    int checkEvery = StressHarness.CHECK_PERIOD;

    @Option(names = "--builtin-bed",
            description = "stress the built-in stress bed of the file's IOMMU kinds, not the file's own devices")
    boolean builtinBed;

    @Option(names = "--domains", paramLabel = "N", description = "shared paging domains (default ${DEFAULT-VALUE})")
    int domains = 3;

    @Option(names = "--repro-dir", paramLabel = "DIR",
            description = "where a failed serial run's reproducing scenario is written (default: the current directory)")
    Path reproDir = Path.of(".");

    @Spec
    CommandSpec spec;

    /** A range of seeds, both ends included. */
    record SeedRange(long first, long last) {
        long count() {
            return last - first + 1;
        }

        @Override
        public String toString() {
            return first == last ? Long.toString(first) : first + ".." + last;
        }
    }

    /** "A..B" with A &lt;= B. @throws IllegalArgumentException otherwise */
    static SeedRange parseRange(String s) {
        int dots = s.indexOf("..");
        if (dots < 0) {
            throw new IllegalArgumentException("--seeds wants A..B, got '" + s + "'");
        }
        try {
            long a = Long.parseLong(s.substring(0, dots).trim());
            long b = Long.parseLong(s.substring(dots + 2).trim());
            if (a > b) {
                throw new IllegalArgumentException("--seeds " + s + ": the first seed is after the last");
            }
            return new SeedRange(a, b);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--seeds wants A..B with whole numbers, got '" + s + "'");
        }
    }

    /** "I/N" with 1 &lt;= I &lt;= N, as {index, count}. @throws IllegalArgumentException otherwise */
    static int[] parseShard(String s) {
        int slash = s.indexOf('/');
        try {
            int i = Integer.parseInt(s.substring(0, Math.max(slash, 0)).trim());
            int n = Integer.parseInt(s.substring(slash + 1).trim());
            if (slash < 0 || n < 1 || i < 1 || i > n) {
                throw new NumberFormatException();
            }
            return new int[] {i, n};
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            throw new IllegalArgumentException("--shard wants I/N with 1 <= I <= N, got '" + s + "'");
        }
    }

    /**
     * Shard {@code i} of {@code n} (from 1) of {@code r}: the {@code i}-th of {@code n}
     * consecutive parts whose sizes differ by at most one, so the shards of a range are disjoint
     * and together are the range; null when the shard has no seed (more shards than seeds).
     */
    static SeedRange shard(SeedRange r, int i, int n) {
        long count = r.count();
        long from = r.first() + (i - 1) * count / n;
        long to = r.first() + i * count / n - 1;
        return from > to ? null : new SeedRange(from, to);
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<String> kinds = kinds(err);
        if (kinds == null) {
            return Main.EXIT_USAGE;
        }
        if (listPlants) {
            listPlants(kinds, out);
            return Main.EXIT_OK;
        }
        Plan plan;
        try {
            plan = plan(kinds);
            if (scenario != null && !builtinBed) {
                deriveFileBeds(plan.kinds());
                refuseUnplantable(plan);
            }
        } catch (IllegalArgumentException e) {
            err.println("jiommu stress: " + e.getMessage());
            err.flush();
            return Main.EXIT_USAGE;
        }
        if (plan.range == null) {
            out.println("shard " + shard + " of seeds " + seeds + " has no seed: nothing to run");
            out.flush();
            return Main.EXIT_OK;
        }
        return new Campaign(plan, out, err).run();
    }

    /** The kinds to stress (only those of --kind when given); null (after printing why) when unusable. */
    private List<String> kinds(PrintWriter err) {
        List<String> all = allKinds(err);
        if (all == null || onlyKinds == null) {
            return all;
        }
        for (String k : onlyKinds) {
            if (!all.contains(k)) {
                err.println("jiommu stress: --kind " + k + ": not a kind with a stress bed"
                        + (file == null ? "" : " of " + file) + " (" + String.join(", ", all) + ")");
                err.flush();
                return null;
            }
        }
        return all.stream().filter(onlyKinds::contains).toList();
    }

    private List<String> allKinds(PrintWriter err) {
        if (file == null) {
            return IommuKinds.names().stream().filter(k -> IommuKinds.require(k).hasStressBed()).toList();
        }
        Scenario s = FailNthCommand.read(file, err);
        if (s == null) {
            return null;
        }
        scenario = s;
        Set<String> k = new LinkedHashSet<>();
        for (IommuSpec i : s.platform().iommus()) {
            k.add(i.kind());
        }
        if (k.isEmpty()) {
            err.println("jiommu stress: " + file + ": the platform has no IOMMU to stress");
            err.flush();
            return null;
        }
        for (String kind : k) {
            if (!IommuKinds.require(kind).hasStressBed()) {
                err.println("jiommu stress: " + file + ": the " + kind + " kind has no stress bed yet");
                err.flush();
                return null;
            }
        }
        return new ArrayList<>(k);
    }

    /**
     * The file's {@code platform:} section as written (up to the next top-level key): the
     * platform of a reproducing scenario, whose steps name the file's devices; without its
     * {@code driver: dma-api} bindings, which the run unbound before its first call
     * ({@link PlatformBed}), so the replay starts from the state the run started from.
     */
    private String platformSection() {
        try {
            StringBuilder y = new StringBuilder();
            boolean in = false;
            for (String line : java.nio.file.Files.readAllLines(file)) {
                boolean top = !line.isEmpty() && !Character.isWhitespace(line.charAt(0)) && !line.startsWith("#");
                if (top) {
                    in = line.startsWith("platform:");
                }
                if (in) {
                    String l = line.replaceAll(",\\s*driver:\\s*dma-api\\b", "");
                    if (!l.strip().equals("driver: dma-api")) {
                        y.append(l).append('\n');
                    }
                    if (top) {
                        y.append("  # (DMA-API drivers left unbound: the stress run unbinds them before its calls)\n");
                    }
                }
            }
            return y.toString();
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** The names of the file's IOMMUs of {@code kind}. */
    private Set<String> iommusOf(String kind) {
        Set<String> out = new LinkedHashSet<>();
        for (IommuSpec i : scenario.platform().iommus()) {
            if (i.kind().equals(kind)) {
                out.add(i.name());
            }
        }
        return out;
    }

    /** The file's devices with a DMA-API driver bound at boot ({@code driver: dma-api}). */
    private Set<String> dmaApiDrivers() {
        Set<String> out = new LinkedHashSet<>();
        for (DeviceSpec d : scenario.platform().devices()) {
            if ("dma-api".equals(d.driver())) {
                out.add(d.name());
            }
        }
        return out;
    }

    /** A fresh, booted platform of the file (its steps not run). */
    private Platform filePlatform() {
        ScenarioSession session = new ScenarioSession(scenario);
        if (session.platform() == null) {
            throw new IllegalArgumentException(file + ": " + session.platformError());
        }
        return session.platform();
    }

    /**
     * Derives each kind's bed from the file's platform once, before any run, so a file that
     * cannot be stressed is refused with the reason (exit 2) and what it lacks is said up front.
     */
    private void deriveFileBeds(List<String> kinds) {
        for (String k : kinds) {
            try {
                fileBeds.put(k, PlatformBed.derive(this::filePlatform, k, iommusOf(k), new StressBed.Shape(threads, true),
                        dmaApiDrivers()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + " cannot be stressed on " + k + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * A plant the file's own platform cannot take (it names a built-in bed device the file has
     * no equivalent of, or needs lanes or the PASID churn the file cannot give): refused before
     * any run, with the reason, rather than a run that plants nothing.
     */
    private void refuseUnplantable(Plan plan) {
        StressHarness.Plant p = plan.base().plant();
        for (String k : plan.kinds()) {
            String why = StressHarness.unplantable(p, fileBeds.get(k).bed());
            if (why != null) {
                throw new IllegalArgumentException("--plant " + p + " cannot be planted on " + file + "'s own platform ("
                        + k + "): " + why + "; --builtin-bed plants it on the " + k + " kind's built-in stress bed");
            }
        }
    }

    private static void listPlants(List<String> kinds, PrintWriter out) {
        // name -> kinds having it, and its description (the first kind's)
        Map<String, List<String>> where = new LinkedHashMap<>();
        Map<String, String> what = new LinkedHashMap<>();
        for (String k : kinds) {
            StressHarness.plants(k).forEach((name, d) -> {
                where.computeIfAbsent(name, x -> new ArrayList<>()).add(k);
                what.putIfAbsent(name, d);
            });
        }
        int w = where.keySet().stream().mapToInt(String::length).max().orElse(0);
        where.forEach((name, ks) -> out.printf("%-" + w + "s  %-9s %s%n", name,
                ks.size() == kinds.size() && kinds.size() > 1 ? "any" : String.join(",", ks), what.get(name)));
        out.flush();
    }

    /** What to run: the seeds (after sharding), the kinds, each run's config minus seed and kind. */
    record Plan(SeedRange range, boolean openEnded, List<String> kinds, StressHarness.Config base, Double seconds,
                String shardLabel) {
    }

    private Plan plan(List<String> kinds) {
        if (threads < 1 || domains < 1) {
            throw new IllegalArgumentException("--threads and --domains must be at least 1");
        }
        if (checkEvery < 0) {
            throw new IllegalArgumentException("--check-every must be 0 or more");
        }
        int ops = length != null && length.ops != null ? length.ops : DEFAULT_OPS;
        Double secs = length == null ? null : length.seconds;
        if (ops < 1 || secs != null && !(secs > 0)) {
            throw new IllegalArgumentException("--ops and --seconds must be positive");
        }
        if (seeds != null && spec.commandLine().getParseResult().hasMatchedOption("--seed")) {
            throw new IllegalArgumentException("give --seed or --seeds, not both");
        }
        if (shard != null && seeds == null) {
            throw new IllegalArgumentException("--shard splits a --seeds range: give --seeds A..B");
        }
        SeedRange range = seeds == null ? new SeedRange(seed, seed) : parseRange(seeds);
        String label = "1/1";
        if (shard != null) {
            int[] s = parseShard(shard);
            range = shard(range, s[0], s[1]);
            label = s[0] + "/" + s[1];
        }
        List<String> runOn = kinds;
        StressHarness.Plant p = StressHarness.Plant.NONE;
        if (plant != null) {
            runOn = new ArrayList<>();
            for (String k : kinds) {
                if (StressHarness.plants(k).containsKey(plant)) {
                    runOn.add(k);
                }
            }
            if (runOn.isEmpty()) {
                throw new IllegalArgumentException("no plant '" + plant + "' on " + String.join(", ", kinds)
                        + " (see --list-plants)");
            }
            p = StressHarness.Plant.named(plant);
        }
        StressHarness.Config base = new StressHarness.Config(0, threads, ops, domains, true, p);
        if (serial) {
            base = base.serialised();
        }
        return new Plan(range, secs != null && seeds == null, List.copyOf(runOn), base, secs, label);
    }

    /** The JVM's process CPU time in ns (all threads), or -1 where the platform MXBean does not give it. */
    static long processCpuNanos() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean x ? x.getProcessCpuTime() : -1;
    }

    /** One invocation's runs, its progress line and its output. */
    private final class Campaign {
        private final Plan plan;
        private final PrintWriter out;
        private final PrintWriter err;
        private final long start = System.nanoTime();
        /** The JVM's CPU time at the start (every thread: workers, JIT, GC), or -1 if it cannot tell. */
        private final long cpuStart = processCpuNanos();
        private final boolean progressLine = System.console() != null && !"dumb".equals(System.getenv("TERM"));
        private volatile StressHarness.Progress current;
        private long runsDone;
        private long callsDone;
        private long dmasDone;
        /** CPU time of the free runs' worker threads (their calls and the checks of them). */
        private long workerCpuNanos;
        private long violations;
        private final List<String> failed = new ArrayList<>();

        Campaign(Plan plan, PrintWriter out, PrintWriter err) {
            this.plan = plan;
            this.out = out;
            this.err = err;
        }

        int run() {
            if (!json) {
                fileBeds.forEach((k, d) -> {
                    StressBed bed = d.bed();
                    out.println("stress " + file + " on " + k + ": " + bed.devices().size() + " shared devices ("
                            + String.join(", ", bed.devices().stream().map(x -> x.name()).toList()) + "), "
                            + bed.pasidDevices().size() + " with PASIDs, " + bed.lanes().size() + " DMA lanes");
                    d.notes().forEach(n -> out.println("  note: " + n));
                });
                out.flush();
            }
            ScheduledExecutorService ticker = null;
            if (progressLine) {
                ticker = Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "stress-progress");
                    t.setDaemon(true);
                    return t;
                });
                ticker.scheduleAtFixedRate(this::showProgress, 500, 500, TimeUnit.MILLISECONDS);
            }
            try {
                for (long s = plan.range().first(); plan.openEnded() || s <= plan.range().last(); s++) {
                    if (plan.seconds() != null && elapsed() >= plan.seconds()) {
                        break;
                    }
                    for (String k : plan.kinds()) {
                        runOne(s, k);
                    }
                }
            } finally {
                if (ticker != null) {
                    ticker.shutdownNow();
                    synchronized (this) {
                        err.print("\r" + " ".repeat(100) + "\r");
                        err.flush();
                    }
                }
            }
            summary();
            return failed.isEmpty() ? Main.EXIT_OK : Main.EXIT_CHECK_FAILED;
        }

        private void runOne(long s, String kind) {
            StressHarness.Config b = plan.base();
            PlatformBed.Derived fileBed = fileBeds.get(kind);
            StressHarness.Config cfg = new StressHarness.Config(s, b.threads(), b.opsPerThread(), b.domains(),
                    fileBed == null ? b.pasids() : fileBed.bed().shape().pasids(), b.plant(), kind, b.serial());
            if (fileBed != null) {
                cfg = cfg.on(kind, StressCommand.this::filePlatform, iommusOf(kind), dmaApiDrivers());
            }
            cfg = cfg.checkingEvery(checkEvery);
            StressHarness.Progress p = new StressHarness.Progress();
            current = p;
            StressHarness.Result r = StressHarness.run(cfg, p);
            InvariantWatch.drain(); // the run has taken its reports; keep a long campaign's memory flat
            List<String> problems = r.problems();
            synchronized (this) {
                current = null;
                runsDone++;
                callsDone += r.calls();
                workerCpuNanos += r.workerCpuNanos();
                dmasDone += r.dmaChecks();
                violations += problems.size();
                if (progressLine && !problems.isEmpty()) {
                    err.print("\r" + " ".repeat(100) + "\r");
                    err.flush();
                }
            }
            StressRepro.Written repro = problems.isEmpty() ? null
                    : StressRepro.write(cfg, r, reproDir, fileBed == null ? null : platformSection());
            if (json) {
                out.println(Json.run(cfg, plan.shardLabel(), r, problems, repro));
            } else if (!problems.isEmpty()) {
                printFailure(cfg, r, problems);
                printRepro(repro);
            }
            out.flush();
            if (!problems.isEmpty()) {
                failed.add(kind + " seed " + s);
            }
        }

        private void printFailure(StressHarness.Config cfg, StressHarness.Result r, List<String> problems) {
            out.println("FAIL " + cfg.kind() + " seed " + cfg.seed() + " (shard " + plan.shardLabel() + ", "
                    + (cfg.serial() ? "serial" : "free") + ", " + cfg.threads() + " threads x " + cfg.opsPerThread()
                    + " calls" + (cfg.plant().equals(StressHarness.Plant.NONE) ? "" : ", plant " + cfg.plant()) + "): "
                    + problems.size() + (problems.size() == 1 ? " problem" : " problems"));
            for (String x : problems.subList(0, Math.min(PROBLEMS_SHOWN, problems.size()))) {
                out.println("  " + x);
            }
            if (problems.size() > PROBLEMS_SHOWN) {
                out.println("  ... and " + (problems.size() - PROBLEMS_SHOWN) + " more");
            }
            List<String> t = r.trace();
            out.println("  last " + Math.min(TRACE_SHOWN, t.size()) + " calls (of " + r.calls() + "):");
            for (String line : t.subList(Math.max(0, t.size() - TRACE_SHOWN), t.size())) {
                out.println("    " + line);
            }
            out.println("  again: " + replay(cfg));
        }

        /** The reproducing scenario's line: where it is and what it fails with, or why there is none. */
        private void printRepro(StressRepro.Written repro) {
            if (repro.file() == null) {
                out.println("  no reproducing scenario: " + repro.whyNot());
                return;
            }
            out.println("  reproducing scenario: " + repro.file() + " (" + repro.steps() + " steps, delta-debugged from "
                    + repro.logged() + "; jiommu run fails: " + repro.failsWith()
                    + (repro.passesUnplanted() ? "" : "; without its plant step it still fails") + ")");
        }

        /** The command that runs exactly this seed on this platform again. */
        private String replay(StressHarness.Config cfg) {
            return "jiommu stress" + (file == null ? "" : " " + file + (builtinBed ? " --builtin-bed" : ""))
                    + (plan.kinds().size() > 1 || onlyKinds != null ? " --kind " + cfg.kind() : "")
                    + " --seed " + cfg.seed() + " --threads "
                    + cfg.threads() + " --ops " + cfg.opsPerThread() + (domains == 3 ? "" : " --domains " + domains)
                    + (cfg.serial() ? " --serial" : "")
                    + (checkEvery == StressHarness.CHECK_PERIOD ? "" : " --check-every " + checkEvery)
                    + (cfg.plant().equals(StressHarness.Plant.NONE) ? "" : " --plant " + cfg.plant());
        }

        private double elapsed() {
            return (System.nanoTime() - start) / 1e9;
        }

        /** CPU seconds the JVM spent since the campaign started, or -1 if it cannot tell. */
        private double cpuSeconds() {
            long now = processCpuNanos();
            return now < 0 || cpuStart < 0 ? -1 : (now - cpuStart) / 1e9;
        }

        private synchronized void showProgress() {
            StressHarness.Progress p = current;
            long calls = callsDone + (p == null ? 0 : p.calls());
            long dmas = dmasDone + (p == null ? 0 : p.dmaChecks());
            long bad = violations + (p == null ? 0 : p.problems());
            double t = elapsed();
            String eta;
            if (plan.seconds() != null) {
                eta = String.format("%.0fs", Math.max(0, plan.seconds() - t));
            } else {
                long perRun = (long) plan.base().threads() * plan.base().opsPerThread();
                double total = (double) plan.range().count() * plan.kinds().size() * perRun;
                double done = runsDone * (double) perRun + (p == null ? 0 : Math.min(p.calls(), perRun));
                eta = done <= 0 ? "?" : String.format("%.0fs", t * (total - done) / done);
            }
            err.print(String.format("\r%d runs, %d calls, %.0f calls/s, %d DMAs checked, %d violations, ETA %s   ",
                    runsDone, calls, calls / Math.max(t, 1e-3), dmas, bad, eta));
            err.flush();
        }

        private void summary() {
            double t = elapsed();
            if (json) {
                out.println(Json.summary(runsDone, failed.size(), callsDone, dmasDone, violations, t, cpuSeconds(),
                        workerCpuNanos / 1e9));
            } else {
                double cpu = cpuSeconds();
                // calls per CPU-second: the figure that survives a loaded machine (wall-clock calls/s
                // drop with every other process; the CPU the run needed per call does not, much)
                out.printf("stress: %d runs (%s x %s, shard %s, %s), %d calls, %.0f calls/s, %d DMAs checked, %d violations,"
                                + " %.1f s%s%n", runsDone, plan.openEnded() ? "seeds from " + plan.range().first()
                                : "seeds " + plan.range(), String.join(",", plan.kinds()), plan.shardLabel(),
                        serial ? "serial" : "free", callsDone, callsDone / Math.max(t, 1e-3), dmasDone, violations, t,
                        (cpu < 0 ? "" : String.format(", %.1f CPU-s (%.0f calls per CPU-s)", cpu,
                                callsDone / Math.max(cpu, 1e-3)))
                                + (workerCpuNanos <= 0 ? "" : String.format(", workers %.1f CPU-s (%.0f calls per"
                                + " worker CPU-s)", workerCpuNanos / 1e9, callsDone / (workerCpuNanos / 1e9))));
                out.println(failed.isEmpty() ? "PASSED" : "FAILED: " + String.join(", ", failed));
            }
            out.flush();
        }
    }

    /** The JSON lines of --json. */
    static final class Json {
        private static final ObjectMapper JSON = new ObjectMapper();

        private Json() {
        }

        static String run(StressHarness.Config c, String shard, StressHarness.Result r, List<String> problems,
                          StressRepro.Written repro) {
            ObjectNode o = JSON.createObjectNode();
            o.put("kind", c.kind());
            o.put("seed", c.seed());
            o.put("shard", shard);
            o.put("mode", c.serial() ? "serial" : "free");
            o.put("threads", c.threads());
            o.put("ops", c.opsPerThread());
            o.put("plant", c.plant().name());
            o.put("calls", r.calls());
            o.put("dmas", r.dmaChecks());
            o.put("hardwareChecks", r.hardwareChecks());
            o.put("checks", r.checks());
            o.put("clean", problems.isEmpty());
            problems.forEach(o.putArray("problems")::add);
            if (!problems.isEmpty()) {
                r.trace().forEach(o.putArray("trace")::add);
                o.put("repro", repro.file() == null ? null : repro.file().toString());
                if (repro.file() == null) {
                    o.put("noRepro", repro.whyNot());
                }
            }
            return write(o);
        }

        static String summary(long runs, long failed, long calls, long dmas, long violations, double seconds,
                              double cpuSeconds, double workerCpuSeconds) {
            ObjectNode o = JSON.createObjectNode();
            o.put("summary", true);
            o.put("runs", runs);
            o.put("failed", failed);
            o.put("calls", calls);
            o.put("dmas", dmas);
            o.put("violations", violations);
            o.put("seconds", Math.round(seconds * 1000) / 1000.0);
            if (cpuSeconds >= 0) {
                o.put("cpuSeconds", Math.round(cpuSeconds * 1000) / 1000.0);
            }
            if (workerCpuSeconds > 0) {
                o.put("workerCpuSeconds", Math.round(workerCpuSeconds * 1000) / 1000.0);
            }
            return write(o);
        }

        private static String write(ObjectNode o) {
            try {
                return JSON.writeValueAsString(o);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
