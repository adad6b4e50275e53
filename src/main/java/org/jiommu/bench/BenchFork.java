package org.jiommu.bench;

/**
 * What runs in a forked JVM: {@code BenchFork CASE WARMUP MEASURED ITERATION_MS THREADS CPU_CLOCK}
 * measures one case and prints its iterations as one marked JSON line (see {@link BenchRunner}).
 */
public final class BenchFork {
    private BenchFork() {
    }

    public static void main(String[] args) {
        if (args.length != 6) {
            System.err.println("usage: BenchFork CASE WARMUP MEASURED ITERATION_MS THREADS CPU_CLOCK");
            System.exit(2);
        }
        BenchCase c = Cases.byName(args[0]);
        if (c == null) {
            System.err.println("no bench case " + args[0]);
            System.exit(2);
        }
        Budget b = new Budget(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]),
                Integer.parseInt(args[4]), 0, Boolean.parseBoolean(args[5]));
        Result r = Harness.measure(c, b);
        System.out.println(BenchRunner.RESULT_MARK + BenchRunner.toJsonLine(r));
        System.out.flush();
    }
}
