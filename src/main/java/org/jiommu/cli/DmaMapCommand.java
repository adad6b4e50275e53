package org.jiommu.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.jiommu.bench.JvmFork;
import org.jiommu.dma.DmaDirection;
import org.jiommu.dma.DmaMapBenchmark;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jiommu bench dma-map}: the kernel's dma_map_benchmark (tools/dma/dma_map_benchmark.c)
 * against jiommu's DMA API on a VT-d default domain: threads map and unmap a buffer of
 * {@code granule} pages in a loop for some seconds; the mean and standard deviation of each call.
 */
@Command(name = "dma-map",
        mixinStandardHelpOptions = true,
        description = {
            "The kernel's dma_map_benchmark on jiommu: THREADS threads each",
            "dma_map_single and dma_unmap_single a GRANULE-page buffer of one VT-d",
            "endpoint's default domain in a loop; prints the mean and standard deviation",
            "of map and unmap in ns (the kernel tool prints 100 ns units).",
            "Strict (iommu.strict=1) by default, --lazy for a DMA-FQ domain."
        })
final class DmaMapCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "mapping threads, 1..64 (default 1)")
    int threads = 1;

    @Option(names = {"-g", "--granule"}, paramLabel = "PAGES", description = "pages per mapping, 1..1024 (default 1)")
    int granule = 1;

    @Option(names = {"-s", "--seconds"}, paramLabel = "S", description = "seconds each thread loops (default 5)")
    double seconds = 5;

    @Option(names = "--loops", paramLabel = "N", description = "stop each thread after N pairs (0: none)")
    long loops;

    @Option(names = "--lazy", description = "a DMA-FQ (lazy) default domain instead of strict")
    boolean lazy;

    @Option(names = "--warmup", paramLabel = "N",
            description = {"buffers each thread maps and holds in turn before the timed loop, so each",
                "CPU starts with its own IOVAs (default " + DmaMapBenchmark.Options.DEFAULT_WARMUP + "; 0: cold, as the kernel tool)"})
    int warmup = DmaMapBenchmark.Options.DEFAULT_WARMUP;

    @Option(names = "--jit-warmup", paramLabel = "S",
            description = {"seconds all threads run the loop untimed first, so the JIT has",
                "compiled it (default " + DmaMapBenchmark.Options.DEFAULT_JIT_SECONDS + "; 0: none)"})
    double jitWarmup = DmaMapBenchmark.Options.DEFAULT_JIT_SECONDS;

    @Option(names = "--devices", paramLabel = "N", description = {"endpoints, each its own group and DMA domain;"
            + " thread t maps for endpoint t mod N (default 1, as the kernel tool: every thread on one device)"})
    int devices = 1;

    @Option(names = "--in-process", description = {"run in this JVM (the JVM's default 8-byte object alignment) instead of a",
        "fresh JVM whose objects are aligned to " + DmaMapBenchmark.FORK_OBJECT_ALIGNMENT + " bytes"})
    boolean inProcess;

    @Override
    public Integer call() throws InterruptedException {
        DmaMapBenchmark.Options o;
        try {
            o = new DmaMapBenchmark.Options(threads, granule, seconds, loops, !lazy, DmaDirection.BIDIRECTIONAL, warmup,
                    jitWarmup, devices);
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("jiommu: " + e.getMessage());
            spec.commandLine().getErr().flush();
            return Main.EXIT_USAGE;
        }
        PrintWriter out = spec.commandLine().getOut();
        if (inProcess) {
            out.print(DmaMapBenchmark.run(o).format());
            out.flush();
            return Main.EXIT_OK;
        }
        return fork(o, out);
    }

    /**
     * Runs the benchmark in a fresh JVM with {@link DmaMapBenchmark#FORK_OBJECT_ALIGNMENT}-byte
     * object alignment and prints what it prints: no object of one CPU then shares a cache line
     * with another CPU's, whatever the collector does (docs/dma.md, "Benchmarks").
     */
    private int fork(DmaMapBenchmark.Options o, PrintWriter out) throws InterruptedException {
        try {
            JvmFork.Output run = JvmFork.run(List.of("-XX:ObjectAlignmentInBytes=" + DmaMapBenchmark.FORK_OBJECT_ALIGNMENT),
                    DmaMapBenchmark.class.getName(), DmaMapBenchmark.forkArgs(o));
            out.print(run.text());
            out.flush();
            if (run.exit() != 0) {
                spec.commandLine().getErr().println("jiommu: the benchmark's JVM exited with " + run.exit());
                spec.commandLine().getErr().flush();
                return Main.EXIT_INTERNAL;
            }
            return Main.EXIT_OK;
        } catch (IOException e) {
            spec.commandLine().getErr().println("jiommu: cannot start a JVM for the benchmark: " + e.getMessage());
            spec.commandLine().getErr().flush();
            return Main.EXIT_INTERNAL;
        }
    }
}
