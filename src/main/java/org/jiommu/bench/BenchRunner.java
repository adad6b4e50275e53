package org.jiommu.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs cases one after the other: each in {@link Budget#forks()} fresh JVMs (same class path,
 * {@link BenchFork} as main; its iterations come back as one JSON line), or in this JVM when
 * forks is 0 (faster, but the cases then share JIT profiles: the page-table formats' calls
 * become polymorphic and later cases can read slower than they would alone).
 */
public final class BenchRunner {
    /** Prefix of the fork's one result line on its standard output. */
    static final String RESULT_MARK = "jiommu-bench-result ";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Told about each case before and after it runs (for progress on a terminal). */
    public interface Progress {
        void started(int index, int count, BenchCase c);

        void finished(int index, int count, Result r);

        Progress NONE = new Progress() {
            @Override
            public void started(int index, int count, BenchCase c) {
            }

            @Override
            public void finished(int index, int count, Result r) {
            }
        };
    }

    private BenchRunner() {
    }

    public static List<Result> run(List<BenchCase> cases, Budget budget, Progress progress) {
        List<Result> out = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            BenchCase c = cases.get(i);
            progress.started(i, cases.size(), c);
            Result r = budget.forks() == 0 ? Harness.measure(c, budget) : forked(c, budget);
            out.add(r);
            progress.finished(i, cases.size(), r);
        }
        return out;
    }

    /** Every fork's measured iterations of one case, pooled. */
    private static Result forked(BenchCase c, Budget budget) {
        List<Double> iterations = new ArrayList<>();
        long ops = 0;
        for (int f = 0; f < budget.forks(); f++) {
            Result r = fork(c, budget);
            iterations.addAll(r.iterations());
            ops += r.operations();
        }
        return new Result(c.name(), c.unit(), iterations, ops);
    }

    private static Result fork(BenchCase c, Budget b) {
        try {
            JvmFork.Output out = JvmFork.run(List.of(), BenchFork.class.getName(), List.of(c.name(),
                    Integer.toString(b.warmupIterations()), Integer.toString(b.measuredIterations()),
                    Integer.toString(b.iterationMillis()), Integer.toString(b.threads()), Boolean.toString(b.cpuClock())));
            for (String line : out.text().split("\n")) {
                if (out.exit() == 0 && line.startsWith(RESULT_MARK)) {
                    return fromJson(JSON.readTree(line.substring(RESULT_MARK.length())));
                }
            }
            throw new IllegalStateException("bench fork for " + c.name() + " failed (exit " + out.exit() + "): "
                    + out.text().strip());
        } catch (IOException e) {
            throw new IllegalStateException("cannot fork a JVM for " + c.name() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** One result as the fork prints it. */
    static String toJsonLine(Result r) {
        var o = JSON.createObjectNode();
        o.put("name", r.name());
        o.put("unit", r.unit().name());
        o.put("operations", r.operations());
        var it = o.putArray("iterations");
        r.iterations().forEach(it::add);
        return o.toString();
    }

    static Result fromJson(JsonNode o) {
        List<Double> it = new ArrayList<>();
        o.get("iterations").forEach(n -> it.add(n.asDouble()));
        return new Result(o.get("name").asText(), BenchCase.Unit.valueOf(o.get("unit").asText()), it,
                o.get("operations").asLong());
    }
}
