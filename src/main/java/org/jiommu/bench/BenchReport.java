package org.jiommu.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Prints a run's results: the table users read and the JSON tools (and the test) parse. */
public final class BenchReport {
    /** Said under every table and in the JSON: what the reference columns are worth. */
    public static final String REFERENCE_NOTE = "Kernel columns: the kernel's own page-table code (io-pgtable-arm.c, "
            + "generic_pt vtdss and x86_64) compiled unmodified in user space (tools/kernel-bench), measured on "
            + KernelReference.SITTING + " on this machine kind, alternating with jiommu processes: each side's "
            + "median of per-process medians (fastest-slowest process in brackets), and jiommu's own figure of that "
            + "sitting. The ratio divides today's jiommu figure by that kernel median: on another machine or another "
            + "day it is only indicative (compare today's figure with jiommu's of that sitting to see how far this "
            + "host differs; on a shared VM a process can run up to 2x slower than the next, the kernel's C as "
            + "much as the JVM). The dma-api row's kernel figure is a published dma_map_benchmark result of another "
            + "machine and IOMMU (Arm Morello + SMMUv3, " + KernelReference.PUBLISHED_2025 + ", its date in "
            + "brackets), with no jiommu figure of its sitting: only indicative of the order of magnitude.";

    private BenchReport() {
    }

    /** The fixed-width table, one row per case, then the reference note. */
    public static String table(List<BenchCase> cases, List<Result> results, String header) {
        Map<String, BenchCase> byName = cases.stream().collect(Collectors.toMap(BenchCase::name, Function.identity()));
        String kernelHead = "kernel " + KernelReference.SITTING;
        String sittingHead = "jiommu " + KernelReference.SITTING;
        StringBuilder sb = new StringBuilder(header).append('\n');
        String fmt = "%-34s %20s  %22s  %22s  %6s%n";
        sb.append(String.format(fmt, "case", "jiommu (median ± %)", kernelHead, sittingHead, "ratio"));
        for (Result r : results) {
            KernelReference k = byName.get(r.name()).reference();
            String figure = String.format("%s %s ± %.0f%%", number(r.median()), r.unit().label(), r.spreadPercent());
            String kernel = k == null ? "-" : KernelReference.cell(k.median(), k.low(), k.high()) + " ns"
                    + (k.date().equals(KernelReference.SITTING) ? "" : " (" + k.date() + ")");
            String sitting = k == null || !k.hasJiommu() ? "-"
                    : KernelReference.cell(k.jiommuMedian(), k.jiommuLow(), k.jiommuHigh()) + " ns";
            String ratio = k == null ? "-" : String.format("%.2f", ratio(r, k));
            sb.append(String.format(fmt, r.name(), figure, kernel, sitting, ratio));
        }
        sb.append('\n').append(wrap(REFERENCE_NOTE, 100));
        return sb.toString();
    }

    /** Today's ns per call over the kernel's median (below 1: faster than the kernel was then). */
    static double ratio(Result r, KernelReference k) {
        return r.nanosPerOp() / k.median();
    }

    /** The whole run as one JSON document. */
    public static String json(List<BenchCase> cases, List<Result> results, Budget budget, boolean quick) {
        Map<String, BenchCase> byName = cases.stream().collect(Collectors.toMap(BenchCase::name, Function.identity()));
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = m.createObjectNode();
        root.put("command", "jiommu bench");
        root.put("time", Instant.now().toString());
        root.put("quick", quick);
        root.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        root.put("cpus", Runtime.getRuntime().availableProcessors());
        ObjectNode b = root.putObject("budget");
        b.put("warmupIterations", budget.warmupIterations());
        b.put("measuredIterations", budget.measuredIterations());
        b.put("iterationMillis", budget.iterationMillis());
        b.put("threads", budget.threads());
        b.put("forks", budget.forks());
        b.put("clock", budget.cpuClock() ? "thread-cpu" : "wall");
        root.put("referenceNote", REFERENCE_NOTE);
        var arr = root.putArray("cases");
        for (Result r : results) {
            BenchCase c = byName.get(r.name());
            ObjectNode o = arr.addObject();
            o.put("name", r.name());
            o.put("description", c.description());
            o.put("unit", r.unit().label());
            o.put("median", r.median());
            o.put("min", r.min());
            o.put("max", r.max());
            o.put("spreadPercent", r.spreadPercent());
            o.put("nsPerOp", r.nanosPerOp());
            o.put("operations", r.operations());
            var it = o.putArray("iterations");
            r.iterations().forEach(it::add);
            KernelReference k = c.reference();
            if (k == null) {
                o.putNull("kernel");
            } else {
                ObjectNode kn = o.putObject("kernel");
                kn.put("date", k.date());
                kn.put("source", k.source());
                kn.put("median", k.median());
                kn.put("low", k.low());
                kn.put("high", k.high());
                if (k.hasJiommu()) {
                    kn.put("jiommuMedian", k.jiommuMedian());
                    kn.put("jiommuLow", k.jiommuLow());
                    kn.put("jiommuHigh", k.jiommuHigh());
                } else { // a published figure: no jiommu figure of its sitting
                    kn.putNull("jiommuMedian");
                    kn.putNull("jiommuLow");
                    kn.putNull("jiommuHigh");
                }
                o.put("ratio", ratio(r, k));
                o.put("ratioLow", r.nanosPerOp() / k.high());
                o.put("ratioHigh", r.nanosPerOp() / k.low());
            }
        }
        try {
            return m.writeValueAsString(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String number(double v) {
        return v >= 100 ? String.format("%.0f", v) : String.format("%.1f", v);
    }

    static String wrap(String text, int width) {
        StringBuilder out = new StringBuilder();
        int col = 0;
        for (String w : text.split(" ")) {
            if (col > 0 && col + 1 + w.length() > width) {
                out.append('\n');
                col = 0;
            } else if (col > 0) {
                out.append(' ');
                col++;
            }
            out.append(w);
            col += w.length();
        }
        return out.append('\n').toString();
    }
}
