package org.jiommu.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.jiommu.check.ReproLog;
import org.jiommu.check.StressHarness;
import org.jiommu.platform.IommuKinds;
import org.jiommu.platform.StressBed;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.OpCatalog;
import org.jiommu.scenario.Outcome;
import org.jiommu.scenario.Scenario;
import org.jiommu.scenario.ScenarioReader;
import org.jiommu.scenario.ScenarioRunner;
import org.jiommu.scenario.Step;

/**
 * The reproducing scenario of a failed serial stress run (docs/check.md 6): the run's logged
 * calls ({@link ReproLog}) as steps on the kind's bed written as a scenario platform
 * ({@code IommuKind.stressBedScenario}), plus a {@code check: invariants} step where the run's
 * first problem was an invariant; replayed as {@code jiommu run} runs it to confirm that it
 * fails the same way, then delta-debugged (ddmin over the steps) to a 1-minimal list that still
 * does, and written as a file.
 */
final class StressRepro {
    /** Replays ddmin may spend on one file; past it the smallest list found so far is written. */
    static final int MAX_REPLAYS = 4000;

    /** A written file, or why none was. */
    record Written(Path file, int steps, int logged, String failsWith, boolean passesUnplanted, String whyNot) {
        static Written none(String why) {
            return new Written(null, 0, 0, null, false, why);
        }
    }

    private final StressHarness.Config cfg;
    private final String platformYaml;
    private int replays;

    private StressRepro(StressHarness.Config cfg, String platformYaml) {
        this.cfg = cfg;
        this.platformYaml = platformYaml;
    }

    /** Builds, checks, minimises and writes the reproducing file of failed run {@code r} into {@code dir}. */
    static Written write(StressHarness.Config cfg, StressHarness.Result r, Path dir) {
        return write(cfg, r, dir, null);
    }

    /**
     * As {@link #write(StressHarness.Config, StressHarness.Result, Path)}, on the platform
     * {@code filePlatform} (a scenario file's {@code platform:} section, whose device names the
     * run's log uses), or on the kind's bed when null.
     */
    static Written write(StressHarness.Config cfg, StressHarness.Result r, Path dir, String filePlatform) {
        ReproLog log = r.repro();
        if (log == null) {
            return Written.none("a free run (its order was the machine's): run it again with --serial");
        }
        if (!log.failed()) {
            return Written.none("the problem showed only after the workers' calls (teardown or the end of the run)");
        }
        String platform = filePlatform != null ? filePlatform : IommuKinds.require(cfg.kind()).stressBedScenario(
                new StressBed.Shape(cfg.threads(), cfg.pasids()));
        if (platform == null) {
            return Written.none("the " + cfg.kind() + " kind gives no scenario platform for its stress bed");
        }
        return new StressRepro(cfg, platform).build(log, r.calls(), dir);
    }

    private Written build(ReproLog log, long calls, Path dir) {
        List<ReproLog.Step> steps = new ArrayList<>(log.steps());
        String want = expectedFailure(log.failure());
        if (want == null) {
            return Written.none("its first problem (" + firstLine(log.failure()) + ") is not one a scenario step checks");
        }
        if (!want.equals("dma")) {
            steps.add(new ReproLog.Step(OpCatalog.CHECK_OP, Map.of("what", "invariants"), "{violations: 0}", null, false));
        }
        Scenario full;
        try {
            full = ScenarioReader.read("stress-repro", text(steps, "", ""));
        } catch (InvalidScenarioException e) {
            return Written.none("the logged calls do not make a valid scenario: " + firstLine(e.getMessage()));
        }
        List<Step> all = full.steps();
        String target = failure(full, all);
        if (target == null || !target.startsWith(want)) {
            return Written.none("the logged calls replayed single-threaded do not fail "
                    + (want.equals("dma") ? "that DMA" : "invariant " + want.substring("check ".length()))
                    + (target == null ? " (they pass: the failure needs calls that are not logged)" : " (they fail with " + target + ")"));
        }
        // the plant (when there is one) stays: it is the bug; ddmin works on the calls, a step
        // and its guards as one unit
        List<Step> fixed = new ArrayList<>();
        List<List<Step>> units = new ArrayList<>();
        List<Step> unit = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            Step s = all.get(i);
            if (s.op().name().equals(OpCatalog.PLANT_OP)) {
                fixed.add(s);
                continue;
            }
            unit.add(s);
            if (!steps.get(i).guard()) {
                units.add(unit);
                unit = new ArrayList<>();
            }
        }
        List<List<Step>> minUnits = ddmin(units, c -> target.equals(failure(full, merge(fixed, flat(c), all))), MAX_REPLAYS - replays);
        List<Step> min = flat(minUnits);
        List<Step> kept = merge(fixed, min, all);
        boolean unplantedPasses = fixed.isEmpty() || failure(full, min) == null;
        List<ReproLog.Step> out = new ArrayList<>();
        for (Step s : kept) {
            out.add(steps.get(all.indexOf(s)));
        }
        String header = header(calls, steps.size(), out.size(), target, !fixed.isEmpty(), unplantedPasses);
        String text = text(out, header, " (" + target + ")");
        Path f = dir.resolve("stress-" + cfg.kind() + "-seed" + cfg.seed()
                + (cfg.plant().equals(StressHarness.Plant.NONE) ? "" : "-" + cfg.plant().name()) + ".yaml");
        try {
            // what the file holds must fail as the minimised list did (jiommu run reads it the same way)
            Scenario back = ScenarioReader.read(f.toString(), text);
            String again = failure(back, back.steps());
            if (!target.equals(again)) {
                return Written.none("the minimised file does not fail as the run did (" + again + ")");
            }
            Files.createDirectories(dir);
            Files.writeString(f, text);
        } catch (InvalidScenarioException | IOException e) {
            return Written.none("could not write " + f + ": " + firstLine(e.getMessage()));
        }
        return new Written(f, out.size(), steps.size(), target, unplantedPasses, null);
    }

    private static List<Step> flat(List<List<Step>> units) {
        List<Step> out = new ArrayList<>();
        units.forEach(out::addAll);
        return out;
    }

    /** The steps of {@code all} that are in {@code a} or {@code b}, in file order. */
    private static List<Step> merge(List<Step> a, List<Step> b, List<Step> all) {
        List<Step> out = new ArrayList<>();
        for (Step s : all) {
            if (a.contains(s) || b.contains(s)) {
                out.add(s);
            }
        }
        return out;
    }

    /**
     * What the run's first problem says a replay must fail with: "dma" for a lane DMA whose
     * outcome was wrong (the DMA step carries the expectation), "check ID" for an invariant the
     * watch or the I7 check found; null for anything a step does not check (an errno no race
     * explains, a WARN, a problem of the PASID churn).
     */
    static String expectedFailure(String problem) {
        if (problem == null) {
            return null;
        }
        if (problem.startsWith("DMA thread ")) {
            return "dma";
        }
        if (problem.startsWith("I7 at ")) {
            return "check I7";
        }
        if (problem.startsWith("watch: ")) {
            int nl = problem.indexOf('\n');
            if (nl > 0) {
                String v = problem.substring(nl + 1).trim();
                int colon = v.indexOf(':');
                if (colon > 0) {
                    return "check " + v.substring(0, colon);
                }
            }
        }
        return null;
    }

    /**
     * How {@code steps} of {@code s} fail when run as {@code jiommu run --stop-on-failure} runs them:
     * "dma expected E got O" for a DMA step, "check ID1,ID2" (the invariant ids found) for a
     * check step, "OP: mismatch" for any other; null when every step passes.
     */
    String failure(Scenario s, List<Step> steps) {
        replays++;
        Scenario sub = new Scenario(s.file(), s.name(), s.description(), s.platform(), steps);
        ScenarioRunner.StepReport[] first = new ScenarioRunner.StepReport[1];
        new ScenarioRunner(true).run(sub, new ScenarioRunner.StepListener() {
            @Override
            public void begin(Scenario scenario, String platformSummary) {
            }

            @Override
            public void step(Scenario scenario, ScenarioRunner.StepReport report) {
                if (!report.passed() && first[0] == null) {
                    first[0] = report;
                }
            }

            @Override
            public void end(Scenario scenario, ScenarioRunner.FileReport report) {
            }
        });
        ScenarioRunner.StepReport f = first[0];
        if (f == null) {
            return null;
        }
        String op = f.step().op().name();
        Outcome o = f.outcome();
        if (op.equals(OpCatalog.CHECK_OP) && o instanceof Outcome.Checked c) {
            TreeSet<String> ids = new TreeSet<>();
            for (String v : c.violations()) {
                int colon = v.indexOf(':');
                ids.add(colon > 0 ? v.substring(0, colon) : v);
            }
            return "check " + String.join(",", ids);
        }
        if (op.equals("dma")) {
            String got = o instanceof Outcome.Translated ? "landed" : o instanceof Outcome.Faulted ? "faulted"
                    : o.show();
            return "dma " + f.step().expect().getClass().getSimpleName().toLowerCase() + " " + got;
        }
        return op + ": " + f.mismatch();
    }

    /**
     * Zeller's ddmin: a 1-minimal sublist of {@code c} (removing any one element makes
     * {@code fails} false) for which {@code fails} holds, given that it holds for {@code c};
     * stops early, with the smallest list found so far, after {@code maxTests} tests.
     */
    static <T> List<T> ddmin(List<T> c, Predicate<List<T>> fails0, int maxTests) {
        int[] tests = new int[1];
        // past the budget every test answers "passes": the loops below then end with what they have
        Predicate<List<T>> fails = l -> {
            if (tests[0] >= maxTests) {
                return false;
            }
            tests[0]++;
            return fails0.test(l);
        };
        int n = 2;
        while (c.size() >= 2 && tests[0] < maxTests) {
            List<List<T>> parts = split(c, n);
            List<T> next = null;
            for (List<T> p : parts) {
                if (fails.test(p)) {
                    next = p;
                    n = 2;
                    break;
                }
            }
            if (next == null && n > 2) {
                for (int i = 0; i < parts.size() && next == null; i++) {
                    List<T> comp = new ArrayList<>();
                    for (int j = 0; j < parts.size(); j++) {
                        if (j != i) {
                            comp.addAll(parts.get(j));
                        }
                    }
                    if (fails.test(comp)) {
                        next = comp;
                        n = Math.max(n - 1, 2);
                    }
                }
            }
            if (next != null) {
                c = next;
            } else if (n >= c.size()) {
                break;
            } else {
                n = Math.min(c.size(), 2 * n);
            }
        }
        if (c.size() == 1 && tests[0] < maxTests && fails.test(List.of())) {
            return List.of();
        }
        return c;
    }

    /** {@code c} in {@code n} consecutive parts whose sizes differ by at most one. */
    static <T> List<List<T>> split(List<T> c, int n) {
        List<List<T>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            List<T> p = c.subList(i * c.size() / n, (i + 1) * c.size() / n);
            if (!p.isEmpty()) {
                out.add(new ArrayList<>(p));
            }
        }
        return out;
    }

    private String header(long calls, int logged, int kept, String target, boolean planted, boolean unplantedPasses) {
        StringBuilder h = new StringBuilder();
        h.append("# Written by: jiommu stress --seed ").append(cfg.seed()).append(" --threads ").append(cfg.threads())
                .append(" --ops ").append(cfg.opsPerThread()).append(cfg.domains() == 3 ? "" : " --domains " + cfg.domains())
                .append(" --serial").append(planted ? " --plant " + cfg.plant().name() : "").append(" (kind ")
                .append(cfg.kind()).append(")\n");
        h.append("# The run made ").append(calls).append(" calls; ").append(logged)
                .append(" steps were logged up to its first problem and delta-debugged (ddmin) to these ")
                .append(kept).append(".\n");
        h.append("# jiommu run on this file fails: ").append(target).append('\n');
        if (planted) {
            h.append("# Without the plant step the same steps ").append(unplantedPasses ? "pass" : "still fail")
                    .append(".\n");
        }
        return h.toString();
    }

    /** The scenario file: header comments, name, the bed's platform, the steps. */
    private String text(List<ReproLog.Step> steps, String header, String nameSuffix) {
        StringBuilder y = new StringBuilder(header);
        y.append("name: stress ").append(cfg.kind()).append(" seed ").append(cfg.seed())
                .append(cfg.plant().equals(StressHarness.Plant.NONE) ? "" : " plant " + cfg.plant().name())
                .append(nameSuffix.replace(':', ' ')).append('\n');
        y.append(platformYaml);
        y.append("steps:\n");
        for (ReproLog.Step s : steps) {
            y.append("  - ").append(s.op()).append(": ");
            if (s.op().equals(OpCatalog.CHECK_OP)) {
                y.append(s.args().get("what"));
            } else {
                List<String> kv = new ArrayList<>();
                s.args().forEach((k, v) -> kv.add(k + ": " + v));
                y.append('{').append(String.join(", ", kv)).append('}');
            }
            y.append('\n');
            if (s.expect() != null) {
                y.append("    expect: ").append(s.expect()).append('\n');
            }
            if (s.as() != null) {
                y.append("    as: ").append(s.as()).append('\n');
            }
        }
        return y.toString();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
