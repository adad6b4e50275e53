package org.jiommu.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jiommu.bench.BenchCase;
import org.jiommu.bench.BenchReport;
import org.jiommu.bench.BenchRunner;
import org.jiommu.bench.Budget;
import org.jiommu.bench.Cases;
import org.jiommu.bench.Result;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jiommu bench}: the figures users compare with the kernel's, and the scale run. */
@Command(name = "bench",
        mixinStandardHelpOptions = true,
        description = {
            "Measure jiommu's page tables and DMA translation (one fresh JVM per case,",
            "warm-up, then measured iterations; median and spread) and compare with the",
            "kernel's own code where a same-sitting kernel figure exists. CASE is a case",
            "name or a prefix (vtd-sl, arm-lpae-s1/map); none runs every case.",
            "'jiommu bench scale' builds a server-sized platform instead.",
            "Exit codes: 0 ok, 2 bad usage."
        },
        subcommands = {ScaleCommand.class, DmaMapCommand.class})
public final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "CASE", arity = "0..*", description = "cases to run (names or prefixes; default: all)")
    List<String> cases = new ArrayList<>();

    @Option(names = "--quick", description = "short iterations: every case in under a minute")
    boolean quick;

    @Option(names = "--json", description = "print the results as JSON instead of the table")
    boolean json;

    @Option(names = "--threads", paramLabel = "N", description = "threads per case, each with its own state (default 1)")
    int threads = 1;

    @Option(names = "--forks", paramLabel = "N",
            description = "fresh JVMs per case (default 1; 0 runs in this JVM, where cases share JIT profiles)")
    Integer forks;

    @Option(names = "--iteration-ms", paramLabel = "MS", description = "length of each iteration (default 500, --quick 100)")
    Integer iterationMillis;

    @Option(names = "--cpu-clock", description = {"time batches by the thread's CPU time, not the wall clock",
        "(on a busy shared machine: waiting for a core is then not counted)"})
    boolean cpuClock;

    @Option(names = "--list", description = "list the cases and exit")
    boolean list;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<BenchCase> selected;
        try {
            selected = Cases.select(cases);
        } catch (IllegalArgumentException e) {
            err.println("jiommu: " + e.getMessage());
            err.flush();
            return Main.EXIT_USAGE;
        }
        if (list) {
            for (BenchCase c : selected) {
                out.printf("%-34s %s%n", c.name(), c.description());
            }
            out.flush();
            return Main.EXIT_OK;
        }
        if (threads < 1 || (forks != null && forks < 0) || (iterationMillis != null && iterationMillis < 1)) {
            err.println("jiommu: --threads and --iteration-ms must be at least 1, --forks at least 0");
            err.flush();
            return Main.EXIT_USAGE;
        }
        Budget budget = (quick ? Budget.quick() : Budget.full()).withThreads(threads).withCpuClock(cpuClock);
        if (forks != null) {
            budget = budget.withForks(forks);
        }
        if (iterationMillis != null) {
            budget = budget.withIterationMillis(iterationMillis);
        }
        List<Result> results = BenchRunner.run(selected, budget, progress(err));
        if (json) {
            out.println(BenchReport.json(selected, results, budget, quick));
        } else {
            out.print(BenchReport.table(selected, results, header(selected.size(), budget)));
        }
        out.flush();
        return Main.EXIT_OK;
    }

    private String header(int n, Budget b) {
        return String.format("jiommu bench%s: %d cases; %s; %d x %d ms warm-up, %d x %d ms measured; %s clock; "
                        + "%d thread%s; Java %s, %d CPUs",
                quick ? " --quick" : "", n, b.forks() == 0 ? "in this JVM" : b.forks() + " fork(s) per case",
                b.warmupIterations(), b.iterationMillis(), b.measuredIterations(), b.iterationMillis(),
                b.cpuClock() ? "thread CPU" : "wall", b.threads(),
                b.threads() == 1 ? "" : "s", System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors());
    }

    /** One rewritten status line on a terminal; nothing at all on a pipe or a file. */
    static BenchRunner.Progress progress(PrintWriter err) {
        if (System.console() == null) {
            return BenchRunner.Progress.NONE;
        }
        return new BenchRunner.Progress() {
            private int width;

            @Override
            public void started(int index, int count, BenchCase c) {
                show(String.format("[%d/%d] %s ...", index + 1, count, c.name()));
            }

            @Override
            public void finished(int index, int count, Result r) {
                if (index + 1 == count) {
                    show("");
                }
            }

            private void show(String s) {
                String pad = s.length() < width ? " ".repeat(width - s.length()) : "";
                err.print("\r" + s + pad + (s.isEmpty() ? "\r" : ""));
                err.flush();
                width = s.length();
            }
        };
    }
}
