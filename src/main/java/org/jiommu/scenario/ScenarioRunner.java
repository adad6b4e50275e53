package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jiommu.base.IommuException;

/**
 * Runs validated scenarios: builds the platform, runs each step through the model, compares
 * the outcome with the step's expectation and hands each result to a {@link StepListener}
 * (the printer). Never throws for what a step does: a core error is an outcome, a model bug
 * is a failed step.
 */
public final class ScenarioRunner {
    private final boolean stopOnFailure;

    public ScenarioRunner(boolean stopOnFailure) {
        this.stopOnFailure = stopOnFailure;
    }

    /** Receives the run as it happens. */
    public interface StepListener {
        void begin(Scenario scenario, String platformSummary);

        void step(Scenario scenario, StepReport report);

        void end(Scenario scenario, FileReport report);
    }

    /** One step's result. */
    public record StepReport(Step step, Outcome outcome, boolean passed, String mismatch, List<String> warnings) {
    }

    /**
     * One file's result. {@code platformError} is set when the platform could not be built (no
     * step ran). Cache figures are -1 when the model exposes no translation caches.
     */
    public record FileReport(String file, String name, int steps, int failed, int faults, boolean stopped,
                             String platformError, long cacheHits, long cacheLookups) {
        public boolean passed() {
            return failed == 0 && platformError == null;
        }
    }

    public FileReport run(Scenario s, StepListener listener) {
        Machine m;
        try {
            List<DeviceSpec> hotplugged = new ArrayList<>();
            for (Step st : s.steps()) {
                if (st.args().get("device") instanceof DeviceSpec d) {
                    hotplugged.add(d);
                }
            }
            m = Machine.build(s.platform(), hotplugged);
        } catch (RuntimeException e) {
            // A probe error at boot (IommuException) or a model bug: no step can run.
            FileReport r = new FileReport(s.file(), s.name(), 0, 1, 0, true,
                    "the platform could not be built: " + e.getMessage(), -1, -1);
            listener.begin(s, "");
            listener.end(s, r);
            return r;
        }
        listener.begin(s, m.summary());
        int run = 0;
        int failed = 0;
        int faults = 0;
        boolean stopped = false;
        for (Step step : s.steps()) {
            StepReport r = runStep(m, step);
            run++;
            if (!r.passed()) {
                failed++;
            }
            if (r.outcome() instanceof Outcome.Faulted) {
                faults++;
            }
            listener.step(s, r);
            if (!r.passed() && stopOnFailure) {
                stopped = run < s.steps().size();
                break;
            }
        }
        long[] cache = m.cacheStats();
        FileReport fr = new FileReport(s.file(), s.name(), run, failed, faults, stopped, null, cache[0], cache[1]);
        listener.end(s, fr);
        return fr;
    }

    /**
     * Lifecycle ops change state even when they fail or warn, as the kernel does: a device whose
     * probe fails stays on its bus; a device removed while owned WARNs and is torn down anyway.
     */
    static final java.util.Set<String> NOT_ATOMIC = java.util.Set.of("device_add", "device_del");

    StepReport runStep(Machine m, Step step) {
        int mark = m.warningCount();
        boolean atomic = !NOT_ATOMIC.contains(step.op().name());
        Machine.State before = atomic ? m.snapshot() : null;
        Outcome o;
        try {
            o = step.op().executor().execute(m, new StepArgs(step, m));
        } catch (IommuException e) {
            o = new Outcome.Failed(e.errno(), stripErrno(e));
        } catch (StepError e) {
            o = new Outcome.Error(e.getMessage());
        } catch (RuntimeException e) {
            // A bug in the model, not in the scenario: the step fails and the run goes on.
            o = new Outcome.Error("model error: " + e);
        }
        List<String> warnings = m.warningsSince(mark);
        if (o instanceof Outcome.Returned r && r.value() == null && step.op().result() == ResultKind.NONE
                && !warnings.isEmpty()) {
            o = new Outcome.Warned(warnings);
        }
        String mismatch;
        try {
            mismatch = compare(m, step, o);
        } catch (StepError e) {
            mismatch = e.getMessage();
        }
        if (mismatch == null && atomic && (o instanceof Outcome.Failed || o instanceof Outcome.Warned)
                && !m.carriedOnSince(mark) && !before.unchangedBy(m.snapshot())) {
            // SCENARIOS.md: an errno or a WARN leaves the state as the kernel leaves it. That is
            // "nothing changed" except what the kernel keeps after a failure (Machine.State
            // .unchangedBy: a claim's blocking domain, a failed bind's mm PASID) and what it does
            // after a WARN it carries on from (a nofail path moving the other devices), which the
            // model marks on the warning itself.
            mismatch = "the call returned " + o.show() + " but changed the core or driver state";
        }
        boolean passed = mismatch == null;
        if (passed && step.as() != null) {
            o = bind(m, step.as(), o);
        }
        return new StepReport(step, o, passed, mismatch, warnings);
    }

    private static String stripErrno(IommuException e) {
        String msg = e.getMessage();
        String prefix = e.errno().name() + ": ";
        return msg.startsWith(prefix) ? msg.substring(prefix.length()) : msg;
    }

    /** Binds the result; a domain or handle takes the name from now on (returned for the output). */
    private static Outcome bind(Machine m, String name, Outcome o) {
        if (o instanceof Outcome.Returned r && r.value() != null) {
            Value v = r.value();
            if (v instanceof Value.Domain d) {
                v = new Value.Domain(d.domain(), name);
                m.nameDomain(d.domain(), name);
            } else if (v instanceof Value.Handle h) {
                v = new Value.Handle(h.handle(), name);
            }
            m.bind(name, v);
            return new Outcome.Returned(v);
        } else if (o instanceof Outcome.Translated t) {
            m.bind(name, new Value.Num(t.paddr()));
        }
        return o;
    }

    /** Null when the outcome meets the expectation, else what differs. */
    private static String compare(Machine m, Step step, Outcome o) {
        Expectation e = step.expect();
        if (o instanceof Outcome.Error err) {
            return err.message();
        }
        boolean ok;
        if (e instanceof Expectation.Ok) {
            ok = o instanceof Outcome.Returned || o instanceof Outcome.Report || o instanceof Outcome.Translated;
        } else if (e instanceof Expectation.Err err) {
            ok = o instanceof Outcome.Failed f && f.errno() == err.errno();
        } else if (e instanceof Expectation.Warn) {
            ok = o instanceof Outcome.Warned;
        } else if (e instanceof Expectation.Returns r) {
            ok = o instanceof Outcome.Returned ret && ret.value() != null && matches(m, r.value(), ret.value());
        } else if (e instanceof Expectation.Paddr p) {
            ok = o instanceof Outcome.Translated t && matches(m, p.paddr(), new Value.Num(t.paddr()));
        } else if (e instanceof Expectation.Fault f) {
            ok = o instanceof Outcome.Faulted fo && (f.reason() == null || f.reason() == fo.reason());
        } else if (e instanceof Expectation.MappingError) {
            ok = o instanceof Outcome.MappingError;
        } else if (e instanceof Expectation.Violations v) {
            ok = o instanceof Outcome.Checked c && c.violations().size() == v.count();
        } else {
            throw new IllegalStateException(e.toString());
        }
        if (!ok) {
            return "expected " + e.show() + ", got " + o.show();
        }
        // A dma read with data: the bytes that arrived must be the expected ones.
        if (o instanceof Outcome.Translated t && step.args().containsKey("read") && step.args().get("data") instanceof byte[] want
                && !Arrays.equals(want, t.data())) {
            return "read " + new Value.Hex(t.data()).show() + ", expected data " + new Value.Hex(want).show();
        }
        return null;
    }

    private static boolean matches(Machine m, Expectation.Expected x, Value actual) {
        if (x instanceof Expectation.Literal l) {
            return l.value().equals(actual);
        }
        if (x instanceof Expectation.CoreDomain c) {
            return actual instanceof Value.Domain d && d.name().equals(c.word());
        }
        Value want = m.binding(((Expectation.Ref) x).name());
        if (want instanceof Value.Domain wd) {
            return actual instanceof Value.Domain ad && ad.domain() == wd.domain();
        }
        if (want instanceof Value.Handle wh) {
            return actual instanceof Value.Handle ah && ah.handle() == wh.handle();
        }
        return want.equals(actual);
    }

    /** The outcome summaries of a whole run over several files. */
    public static List<FileReport> runAll(List<Scenario> scenarios, boolean stopOnFailure, StepListener listener) {
        ScenarioRunner r = new ScenarioRunner(stopOnFailure);
        List<FileReport> out = new ArrayList<>();
        for (Scenario s : scenarios) {
            FileReport fr = r.run(s, listener);
            out.add(fr);
            if (!fr.passed() && stopOnFailure) {
                break;
            }
        }
        return out;
    }
}
