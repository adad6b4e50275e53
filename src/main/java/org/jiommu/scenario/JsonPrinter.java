package org.jiommu.scenario;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.util.HexFormat;
import java.util.Map;
import org.jiommu.base.Prot;

/**
 * The tool output of a run ({@code --json}): one JSON object per line for every step, then one
 * summary object per file (it has the key {@code "summary"}; step objects have {@code "step"}).
 */
public final class JsonPrinter implements ScenarioRunner.StepListener {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final PrintWriter out;

    public JsonPrinter(PrintWriter out) {
        this.out = out;
    }

    @Override
    public void begin(Scenario s, String platformSummary) {
    }

    @Override
    public void step(Scenario s, ScenarioRunner.StepReport r) {
        print(stepJson(s, r));
    }

    /** A step not run yet: what {@link #stepJson} shows before the result. */
    public static ObjectNode pendingStepJson(Scenario s, Step step) {
        ObjectNode o = head(s, step);
        if (step.note() != null) {
            o.put("note", step.note());
        }
        return o;
    }

    /** What a step object says before its result. */
    private static ObjectNode head(Scenario s, Step step) {
        ObjectNode o = JSON.createObjectNode();
        o.put("file", s.file());
        o.put("step", step.number());
        o.put("line", step.loc().line());
        o.put("op", step.op().name());
        putArgs(o, step);
        o.put("call", step.written());
        o.put("expect", step.expect().show());
        return o;
    }

    private static void putArgs(ObjectNode o, Step step) {
        ObjectNode args = o.putObject("args");
        for (Map.Entry<String, Object> e : step.args().entrySet()) {
            args.put(e.getKey(), argText(e.getKey(), e.getValue()));
        }
    }

    /** One step's object, as {@code run --json} prints it and {@code jiommu serve}'s API serves it. */
    public static ObjectNode stepJson(Scenario s, ScenarioRunner.StepReport r) {
        Step step = r.step();
        ObjectNode o = head(s, step);
        o.put("result", r.outcome().show());
        putOutcome(o, r.outcome());
        if (!r.warnings().isEmpty()) {
            r.warnings().forEach(o.putArray("warnings")::add);
        }
        if (step.as() != null) {
            o.put("as", step.as());
        }
        o.put("status", r.passed() ? "ok" : "FAILED");
        if (!r.passed()) {
            o.put("mismatch", r.mismatch());
        }
        return o;
    }

    /** An outcome's fields ({@code errno}, {@code paddr}, {@code fault} ...), as a step object has them. */
    public static void putOutcome(ObjectNode o, Outcome out0) {
        if (out0 instanceof Outcome.Failed f) {
            o.put("errno", "-" + f.errno().name());
            o.put("message", f.message());
        } else if (out0 instanceof Outcome.Returned ret && ret.value() != null) {
            o.put("value", ret.value().show());
        } else if (out0 instanceof Outcome.Translated t) {
            o.put("paddr", "0x" + Long.toHexString(t.paddr()));
            if (t.data() != null) {
                o.put("data", HexFormat.of().formatHex(t.data()));
            }
        } else if (out0 instanceof Outcome.Faulted f) {
            o.put("fault", f.reason() == null ? null : f.reason().word);
            o.put("message", f.detail());
        } else if (out0 instanceof Outcome.Checked c) {
            o.put("violations", c.violations().size());
            c.violations().forEach(o.putArray("findings")::add);
        } else if (out0 instanceof Outcome.Report rep) {
            o.put("output", rep.text());
        } else if (out0 instanceof Outcome.Error e) {
            o.put("message", e.message());
        }
    }

    private static String argText(String key, Object v) {
        if (v instanceof byte[] b) {
            return HexFormat.of().formatHex(b);
        }
        if (v instanceof Integer prot && key.equals("prot")) {
            return Prot.format(prot);
        }
        if (v instanceof DeviceSpec d) {
            return d.name();
        }
        return String.valueOf(v);
    }

    @Override
    public void end(Scenario s, ScenarioRunner.FileReport r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("file", s.file());
        o.put("scenario", s.name());
        ObjectNode sum = o.putObject("summary");
        sum.put("steps", r.steps());
        sum.put("failed", r.failed());
        sum.put("faults", r.faults());
        if (r.cacheLookups() >= 0) {
            sum.put("cacheHits", r.cacheHits());
            sum.put("cacheLookups", r.cacheLookups());
        }
        sum.put("stopped", r.stopped());
        if (r.platformError() != null) {
            sum.put("platformError", r.platformError());
        }
        sum.put("status", r.passed() ? "PASSED" : "FAILED");
        print(o);
    }

    private void print(ObjectNode o) {
        try {
            out.println(JSON.writeValueAsString(o));
            out.flush();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
