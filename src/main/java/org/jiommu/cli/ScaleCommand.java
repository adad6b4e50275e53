package org.jiommu.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.jiommu.bench.Budget;
import org.jiommu.bench.ScaleRun;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jiommu bench scale}: the server-sized platform of issue 17, phase by phase. */
@Command(name = "scale",
        mixinStandardHelpOptions = true,
        description = {
            "Build 64 K PCI functions on 256 buses behind 4 VT-d units, attach 1 M",
            "PASIDs, map 1 TiB with 2M pages and 64 GiB with 4K pages; print time and",
            "Java heap per phase, heap per function, PASID and mapped page, and the DMA",
            "translate rate against a one-device platform.",
            "Run it with a 2 GiB heap: JIOMMU_JAVA_OPTS=-Xmx2g ./jiommu bench scale"
        })
final class ScaleCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--tiny", description = "a 1/1024 model of the same platform (seconds; what the test runs)")
    boolean tiny;

    @Option(names = "--dma-default", description = "DMA (paging) default domains instead of identity for the functions")
    boolean dmaDefault;

    @Option(names = "--buses", paramLabel = "N", description = "root buses (default 256)")
    Integer buses;

    @Option(names = "--functions", paramLabel = "N", description = "functions per bus, at most 256 (default 256)")
    Integer functions;

    @Option(names = "--cpu-clock", description = "time the translate comparison by thread CPU time (busy machine)")
    boolean cpuClock;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ScaleRun.Spec s = tiny ? ScaleRun.Spec.tiny() : ScaleRun.Spec.server();
        if (buses != null || functions != null || dmaDefault) {
            int b = buses != null ? buses : s.buses();
            int f = functions != null ? functions : s.perBus();
            if (b < s.units() || b > 256 || f < 1 || f > 256) {
                spec.commandLine().getErr().println("jiommu: --buses must be " + s.units() + "..256, --functions 1..256");
                spec.commandLine().getErr().flush();
                return Main.EXIT_USAGE;
            }
            // A DMA default domain adds a root table frame per function: a pool (a quarter of
            // memory) 256 MiB larger at full size.
            long memory = dmaDefault && !tiny ? 4L << 30 : s.memoryBytes();
            s = new ScaleRun.Spec(s.units(), b, f, s.pasidsPerDevice(), s.pasidBits(), s.map2M(), s.map4K(),
                    memory, dmaDefault);
        }
        // The scale platform's translate rate is measured in this JVM (the platform cannot be
        // rebuilt in a fork cheaply), after the small platform's, with the same fixture class.
        Budget translate = (tiny ? Budget.quick().withIterationMillis(20) : Budget.full()).withForks(0).withCpuClock(cpuClock);
        ScaleRun.Report r = ScaleRun.run(s, translate, out);
        out.print(ScaleRun.summary(r));
        out.flush();
        return Main.EXIT_OK;
    }
}
