package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.jiommu.base.IommuException;
import org.jiommu.check.CoreWatch;
import org.jiommu.check.FailNthSweep;
import org.jiommu.check.InvariantWatch;

/**
 * A scenario file's steps as the fail_nth sweep's recorded sequence ({@code jiommu fail-nth},
 * docs/check.md 3): each attempt builds the file's platform afresh and runs the steps as
 * {@code jiommu run} does (bindings included). A step whose outcome meets its expectation
 * returns; one that fails with an errno it was not expected to give throws that errno as an
 * {@link IommuException}, so the sweep sees an injected failure the way it sees a core call's.
 */
public final class ScenarioSweep {
    private static final String MACHINE = "machine";

    private ScenarioSweep() {
    }

    /** The fresh platform of every attempt: the file's, booted, no step run. */
    public static Supplier<FailNthSweep.Env> setup(Scenario s) {
        List<DeviceSpec> hotplugged = new ArrayList<>();
        for (Step st : s.steps()) {
            if (st.args().get("device") instanceof DeviceSpec d) {
                hotplugged.add(d);
            }
        }
        return () -> {
            Machine m = Machine.build(s.platform(), hotplugged);
            // where the platform's view is exact the watch uses it, so the sweep can pause it
            // over the replayed prefix; elsewhere it keeps the trace view and checks the prefix too
            CoreWatch w = InvariantWatch.of(m.core);
            if (w != null && m.platform.exactFrames()) {
                w.usePlatform(m.platform);
            }
            FailNthSweep.Env env = new FailNthSweep.Env(m.platform);
            env.put(MACHINE, m);
            return env;
        };
    }

    /** The step's name in sweep reports: its number and the step as written. */
    public static String name(Step st) {
        return "#" + st.number() + " " + st.written();
    }

    /**
     * The steps that change the platform even when they fail, as the kernel's calls do (the
     * runner's lifecycle ops: a device whose probe fails stays on its bus, a removed device is
     * torn down anyway): after a failure only the invariants must hold.
     */
    public static Set<String> notAtomic(Scenario s) {
        Set<String> out = new HashSet<>();
        for (Step st : s.steps()) {
            if (ScenarioRunner.NOT_ATOMIC.contains(st.op().name())) {
                out.add(name(st));
            }
        }
        return out;
    }

    /** Every step of the file, in order. */
    public static List<FailNthSweep.Step> steps(Scenario s) {
        ScenarioRunner runner = new ScenarioRunner(false);
        List<FailNthSweep.Step> out = new ArrayList<>();
        for (Step st : s.steps()) {
            String name = name(st);
            out.add(new FailNthSweep.Step(name, env -> {
                Machine m = env.get(MACHINE);
                ScenarioRunner.StepReport r = runner.runStep(m, st);
                if (r.passed()) {
                    return;
                }
                if (r.outcome() instanceof Outcome.Failed f) {
                    throw new IommuException(f.errno(), name + ": " + f.message());
                }
                if (r.outcome() instanceof Outcome.MappingError || r.outcome() instanceof Outcome.Returned ret
                        && ret.value() != null && st.expect() instanceof Expectation.Returns) {
                    // the call's own way of failing, judged as a failure: the DMA API's
                    // DMA_MAPPING_ERROR, or a value other than the expected one (a global PASID
                    // allocation gives IOMMU_PASID_INVALID)
                    throw new FailNthSweep.CallerFailure(name + ": " + r.mismatch());
                }
                if (r.outcome() instanceof Outcome.Warned w) {
                    throw new IllegalStateException(name + ": WARN " + w.warnings());
                }
                throw new IllegalStateException(name + ": " + r.mismatch());
            }));
        }
        return out;
    }
}
