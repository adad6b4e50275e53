package org.jiommu.scenario;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * The human output of a run (SCENARIOS.md "Output"): a header per file, a note line where the
 * scenario tells its story, one line per step (number, the step as written, result, ok or
 * FAILED), what was expected and what happened under a failed step, and a summary.
 */
public final class TextPrinter implements ScenarioRunner.StepListener {
    private static final int RESULT_COLUMN = 66;

    private final PrintWriter out;
    private final boolean color;

    public TextPrinter(PrintWriter out, boolean color) {
        this.out = out;
        this.color = color;
    }

    private String paint(String code, String s) {
        return color ? "\u001b[" + code + "m" + s + "\u001b[0m" : s;
    }

    @Override
    public void begin(Scenario s, String platformSummary) {
        out.println(paint("1", "== " + s.name()) + paint("2", "  (" + s.file() + ")"));
        if (s.description() != null) {
            for (String line : wrap(s.description().trim(), 90)) {
                out.println("   " + line);
            }
        }
        if (!platformSummary.isEmpty()) {
            out.println(paint("2", "   platform: " + platformSummary));
        }
    }

    @Override
    public void step(Scenario s, ScenarioRunner.StepReport r) {
        Step step = r.step();
        if (step.note() != null) {
            out.println();
            for (String line : wrap(step.note().trim(), 90)) {
                out.println(paint("36", "   # " + line));
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%4d  ", step.number())).append(step.written());
        while (sb.length() < RESULT_COLUMN) {
            sb.append(' ');
        }
        sb.append(" -> ").append(result(r)).append("  ");
        sb.append(r.passed() ? paint("32", "ok") : paint("1;31", "FAILED"));
        out.println(sb);
        String why = why(r.outcome());
        if (r.passed() && why != null) {
            out.println(paint("2", "        " + why));
        }
        if (r.outcome() instanceof Outcome.Report rep && !rep.text().isEmpty()) {
            for (String line : rep.text().split("\n")) {
                out.println("        " + line);
            }
        }
        if (!r.passed()) {
            out.println(paint("31", "        step " + step.number() + " (line " + step.loc().line() + "): "
                    + step.written()));
            out.println(paint("31", "        expected: " + step.expect().show()));
            out.println(paint("31", "        actual:   " + r.outcome().show()
                    + (why == null ? "" : "  (" + why + ")")));
            if (!r.mismatch().startsWith("expected ")) {
                out.println(paint("31", "        " + r.mismatch()));
            }
        }
    }

    private static String result(ScenarioRunner.StepReport r) {
        String shown = r.outcome().show();
        if (r.step().as() != null && r.passed() && !shown.equals(r.step().as())) {
            shown = shown + "  (as " + r.step().as() + ")";
        }
        return shown;
    }

    /** The model's own explanation of an error or warning, for the line under the step. */
    private static String why(Outcome o) {
        if (o instanceof Outcome.Failed f) {
            return f.message();
        }
        if (o instanceof Outcome.Warned w) {
            return "WARN " + String.join("; ", w.warnings());
        }
        if (o instanceof Outcome.Checked c && !c.violations().isEmpty()) {
            return String.join("; ", c.violations());
        }
        if (o instanceof Outcome.Error e) {
            return e.message();
        }
        if (o instanceof Outcome.Faulted f) {
            return f.detail();
        }
        return null;
    }

    @Override
    public void end(Scenario s, ScenarioRunner.FileReport r) {
        if (r.platformError() != null) {
            out.println(paint("1;31", "   " + r.platformError()));
        }
        StringBuilder sb = new StringBuilder("-- ");
        sb.append(r.steps()).append(r.steps() == 1 ? " step, " : " steps, ")
                .append(r.failed()).append(" failed, ")
                .append(r.faults()).append(r.faults() == 1 ? " DMA fault" : " DMA faults");
        if (r.cacheLookups() > 0) {
            sb.append(String.format(", translation-cache hit rate %d%% (%d of %d)",
                    Math.round(100.0 * r.cacheHits() / r.cacheLookups()), r.cacheHits(), r.cacheLookups()));
        } else {
            sb.append(", translation-cache hit rate n/a (no lookups)");
        }
        if (r.stopped()) {
            sb.append(", stopped at the first failure");
        }
        sb.append("  ").append(r.passed() ? paint("1;32", "PASSED") : paint("1;31", "FAILED"));
        out.println(sb);
        out.println();
        out.flush();
    }

    /** Prints one line over several files. */
    public void total(List<ScenarioRunner.FileReport> reports) {
        if (reports.size() < 2) {
            return;
        }
        long failed = reports.stream().filter(x -> !x.passed()).count();
        out.println(reports.size() + " files: " + (reports.size() - failed) + " passed, " + failed + " failed");
    }

    static List<String> wrap(String text, int width) {
        List<String> lines = new ArrayList<>();
        for (String para : text.split("\n")) {
            StringBuilder line = new StringBuilder();
            for (String w : para.trim().split("\\s+")) {
                if (line.length() > 0 && line.length() + 1 + w.length() > width) {
                    lines.add(line.toString());
                    line.setLength(0);
                }
                line.append(line.length() == 0 ? "" : " ").append(w);
            }
            lines.add(line.toString());
        }
        return lines;
    }
}
