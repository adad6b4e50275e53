package org.jiommu.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.JsonPrinter;
import org.jiommu.scenario.Problem;
import org.jiommu.scenario.Scenario;
import org.jiommu.scenario.ScenarioReader;
import org.jiommu.scenario.ScenarioRunner;
import org.jiommu.scenario.TextPrinter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code jiommu run FILE...}: the scenario runner (SCENARIOS.md). */
@Command(name = "run",
        mixinStandardHelpOptions = true,
        // Every line below fits 80 columns, so picocli never wraps one mid-sentence.
        usageHelpWidth = 80,
        description = {
            "Run scenario files and check every step's expectation.",
            "Builds each file's platform, runs its steps through the model and compares",
            "each result with the step's expectation. All files are validated before any",
            "step runs.",
        },
        footerHeading = "%nExpectations (a step's 'expect:', default ok):%n",
        footer = {
            "  ok                 the call succeeded",
            "  -EBUSY, -EINVAL... the call failed with exactly that errno",
            "  warn               a void call hit a kernel WARN (recorded; nothing changed)",
            "  {value: V}         the call returned V: a number, true/false, hex, or a",
            "                     name bound with 'as' (iommu_get_domain_for_dev: also",
            "                     default, blocked, identity)",
            "  {paddr: PA}        a dma step was translated to PA",
            "  fault              a dma step was refused by the IOMMU;",
            "  {fault: REASON}      REASON: not-present, permission, blocked, bad-pasid,",
            "                       out-of-range",
            "  {violations: N}    a check step found N invariant violations (default 0)",
            "",
            "Exit codes: 0 every step met its expectation;",
            "  1 a step did not (its number, the step, the expectation and the actual",
            "    result are printed);",
            "  2 a file is not a valid scenario (file:line:column: message for every",
            "    problem; with --json one object per problem) or bad usage;",
            "  3 an internal error in jiommu (a bug: please report it; --debug shows",
            "    the stack trace).",
            "Input limits (file size, steps, nesting): docs/scenarios.md, \"Limits\".",
            "`jiommu ops` lists the ops and their arguments.",
        })
public final class RunCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "FILE", description = "scenario files (YAML)")
    List<Path> files = new ArrayList<>();

    @Option(names = "--json", description = "one JSON object per step (and a summary object per file)")
    boolean json;

    @Option(names = "--stop-on-failure", description = "stop at the first step that fails")
    boolean stopOnFailure;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        List<Scenario> scenarios = new ArrayList<>();
        boolean invalid = false;
        for (Path f : files) {
            try {
                scenarios.add(ScenarioReader.read(f));
            } catch (NoSuchFileException e) {
                err.println("jiommu: " + f + ": no such file");
                invalid = true;
            } catch (IOException e) {
                err.println("jiommu: " + f + ": cannot read: " + e.getMessage());
                invalid = true;
            } catch (InvalidScenarioException e) {
                if (json) {
                    printProblemsJson(spec.commandLine().getOut(), e);
                } else {
                    printProblems(err, e);
                }
                invalid = true;
            }
        }
        if (invalid) {
            err.flush();
            spec.commandLine().getOut().flush();
            return Main.EXIT_USAGE;
        }
        return runAll(scenarios, json, stopOnFailure, spec.commandLine().getOut());
    }

    static void printProblems(PrintWriter err, InvalidScenarioException e) {
        for (Problem p : e.problems()) {
            err.println(p);
        }
        err.println(e.total() + (e.total() == 1 ? " problem" : " problems")
                + (e.total() > e.problems().size() ? " (the first " + e.problems().size() + " shown)" : "")
                + "; nothing was run");
        err.flush();
    }

    /**
     * {@code --json}: one object per problem ({@code file}, {@code line}, {@code column} when the
     * problem has a position, {@code problem}), then {@code {"file", "invalid": true, "problems": N}}.
     */
    static void printProblemsJson(PrintWriter out, InvalidScenarioException e) {
        ObjectMapper m = new ObjectMapper();
        String file = null;
        for (Problem p : e.problems()) {
            ObjectNode o = m.createObjectNode();
            file = p.loc().file();
            o.put("file", file);
            if (p.loc().hasPosition()) {
                o.put("line", p.loc().line());
                o.put("column", p.loc().column());
            }
            o.put("problem", p.message());
            out.println(o);
        }
        ObjectNode end = m.createObjectNode();
        end.put("file", file);
        end.put("invalid", true);
        end.put("problems", e.total());
        out.println(end);
        out.flush();
    }

    /** Runs validated scenarios with the chosen printer; returns the exit code. */
    static int runAll(List<Scenario> scenarios, boolean json, boolean stopOnFailure, PrintWriter out) {
        List<ScenarioRunner.FileReport> reports;
        if (json) {
            reports = ScenarioRunner.runAll(scenarios, stopOnFailure, new JsonPrinter(out));
        } else {
            TextPrinter p = new TextPrinter(out, Terminal.colors());
            reports = ScenarioRunner.runAll(scenarios, stopOnFailure, p);
            p.total(reports);
        }
        out.flush();
        return reports.stream().allMatch(ScenarioRunner.FileReport::passed) ? Main.EXIT_OK : Main.EXIT_CHECK_FAILED;
    }
}
