package org.jiommu.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jiommu.check.FailNthSweep;
import org.jiommu.check.InvariantWatch;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.Scenario;
import org.jiommu.scenario.ScenarioReader;
import org.jiommu.scenario.ScenarioSweep;
import org.jiommu.scenario.Step;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code jiommu fail-nth FILE}: the fail_nth sweep ({@link FailNthSweep}, docs/check.md 3) over a scenario's steps. */
@Command(name = "fail-nth",
        mixinStandardHelpOptions = true,
        description = {
            "Sweep every allocation of every step of a scenario file with a failure.",
            "Like the kernel's iommufd_fail_nth: each step runs again on a fresh platform",
            "(the steps before it replayed) with its Nth allocation failing, N = 1, 2, ...",
            "until it no longer reaches an Nth one: first the core's and the drivers'",
            "allocation sites, then page-table pages. After every failure the platform must",
            "be exactly as before the step (core, drivers, hardware entries, frames outside",
            "live tables) and every invariant must hold.",
        },
        footer = {
            "",
            "The file must run green under `jiommu run` first (it is the recorded sequence).",
            "Each step is printed with the allocation sites swept (core, frames) and any",
            "difference a failure left.",
            "",
            "Exit codes: 0 every failure left the platform as before; 1 one did not (or the",
            "file does not run green); 2 the file is not a valid scenario or bad usage.",
        })
public final class FailNthCommand implements Callable<Integer> {
    @Parameters(arity = "1", paramLabel = "SCENARIO.yaml", description = "the scenario file whose steps are swept")
    Path file;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Scenario s = read(file, err);
        if (s == null) {
            return Main.EXIT_USAGE;
        }
        // the watch checks every call of every attempt, from each platform's creation on
        InvariantWatch.install();
        FailNthSweep.Result r;
        try {
            r = FailNthSweep.run(ScenarioSweep.setup(s), ScenarioSweep.steps(s), ScenarioSweep.notAtomic(s),
                    FailNthSweep.Source.CORE,
                    FailNthSweep.Source.FRAMES);
        } catch (RuntimeException e) {
            out.println("fail-nth " + file + ": the platform could not be built: " + e.getMessage());
            out.flush();
            return Main.EXIT_CHECK_FAILED;
        }
        List<String> watch = new ArrayList<>();
        InvariantWatch.drain().forEach(rep -> watch.add("watch: " + rep));
        print(s, r, watch, out);
        return r.problems().isEmpty() && watch.isEmpty() ? Main.EXIT_OK : Main.EXIT_CHECK_FAILED;
    }

    /** The scenario in {@code file}, or null after saying on {@code err} why it cannot be used. */
    static Scenario read(Path file, PrintWriter err) {
        try {
            return ScenarioReader.read(file);
        } catch (NoSuchFileException e) {
            err.println("jiommu: " + file + ": no such file");
        } catch (IOException e) {
            err.println("jiommu: " + file + ": cannot read: " + e.getMessage());
        } catch (InvalidScenarioException e) {
            RunCommand.printProblems(err, e);
        }
        err.flush();
        return null;
    }

    private void print(Scenario s, FailNthSweep.Result r, List<String> watch, PrintWriter out) {
        out.println("fail-nth " + file + ": " + s.steps().size() + " steps");
        int w = s.steps().stream().mapToInt(st -> st.written().length()).max().orElse(0);
        w = Math.min(w, 60);
        long sites = 0;
        List<String> shown = new ArrayList<>();
        for (Step st : s.steps()) {
            String name = ScenarioSweep.name(st);
            long core = swept(r, name, FailNthSweep.Source.CORE);
            long frames = swept(r, name, FailNthSweep.Source.FRAMES);
            sites += core + frames;
            List<String> mine = new ArrayList<>();
            for (String p : r.problems()) {
                if (p.contains(name + ":") || p.contains(name + " ") || p.endsWith(name)) {
                    mine.add(p);
                }
            }
            out.printf("%4d  %-" + w + "s  core %d, frames %d  %s%n", st.number(), st.written(), core, frames,
                    mine.isEmpty() ? "ok" : "DIFFERENT");
            for (String p : mine) {
                out.println("        " + p);
            }
            shown.addAll(mine);
        }
        for (String p : r.problems()) {
            if (!shown.contains(p)) {
                out.println("  " + p);
            }
        }
        for (String p : watch) {
            out.println("  " + p);
        }
        int bad = r.problems().size() + watch.size();
        out.println("-- " + s.steps().size() + " steps, " + sites + " allocation sites swept, " + bad
                + (bad == 1 ? " difference: " : " differences: ") + (bad == 0 ? "PASSED" : "FAILED"));
        out.flush();
    }

    /** Allocation sites of {@code step} the sweep failed (cleanly, not, or absorbed by the caller). */
    private static long swept(FailNthSweep.Result r, String step, FailNthSweep.Source src) {
        return r.failures(step, src) + r.count(step, src, FailNthSweep.Outcome.ABSORBED);
    }
}
