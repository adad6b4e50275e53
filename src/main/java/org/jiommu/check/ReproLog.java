package org.jiommu.check;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The calls of a serial stress run written as scenario steps (docs/check.md 6), up to the step
 * after which the run first found a problem: what {@code jiommu stress} turns into a reproducing
 * scenario file. Only calls that change state are logged, as the scenario op that makes them:
 * a call that failed left the platform as it was (I-ATOMIC, checked by the watch), so dropping
 * it changes nothing the later calls see. Calls of the PASID churn (PASIDs, aux, SVA, page
 * requests) and the IOPF handler are not logged: their objects (processes, handles, page request
 * groups) have no step that recreates them as the run made them, so a failure that needs them
 * does not replay from the log and no file is written (the command says so).
 *
 * <p>A step is an op name, its arguments as the file writes them and its expectation: the result
 * the call gave, or for a checked DMA the outcome the worker's own mappings call for (so a
 * wrong DMA fails the replay at that step, as it failed the run). Such a DMA comes with guard
 * steps that state, through the core, why that outcome is the right one (which domain the lane's
 * device is on, what that domain maps the IOVA to): a guard goes with the step after it, so a
 * minimised file cannot keep the DMA's expectation and drop the calls that justified it.
 */
public final class ReproLog {
    /**
     * One step: {@code op} (a scenario op, or {@code plant}), its arguments in order as YAML
     * scalars or flow lists, the expectation as written after {@code expect:} (null: ok), and
     * the name the step binds ({@code as:}, or null); {@code guard}: the step belongs with the next
     * one (kept or dropped together).
     */
    public record Step(String op, Map<String, String> args, String expect, String as, boolean guard) {
        public Step {
            args = Collections.unmodifiableMap(new LinkedHashMap<>(args));
        }
    }

    private final List<Step> steps = new ArrayList<>();
    private int failAt = -1;
    private String failure;

    /** Appends a step, unless the failure is already marked (what follows it cannot matter). */
    synchronized void add(String op, String expect, String as, String... keyValues) {
        add(false, op, expect, as, keyValues);
    }

    /** Appends a guard of the next step ({@link Step#guard()}). */
    synchronized void addGuard(String op, String expect, String... keyValues) {
        add(true, op, expect, null, keyValues);
    }

    private void add(boolean guard, String op, String expect, String as, String... keyValues) {
        if (failAt >= 0) {
            return;
        }
        Map<String, String> args = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            args.put(keyValues[i], keyValues[i + 1]);
        }
        steps.add(new Step(op, args, expect, as, guard));
    }

    /** The first problem of the run showed after the steps logged so far; later calls are not logged. */
    synchronized void markFailure(String problem) {
        if (failAt < 0) {
            failAt = steps.size();
            failure = problem;
        }
    }

    /** The steps up to the failure (all of them if none was marked). */
    public synchronized List<Step> steps() {
        return List.copyOf(failAt < 0 ? steps : steps.subList(0, failAt));
    }

    /** Whether a failure was marked. */
    public synchronized boolean failed() {
        return failAt >= 0;
    }

    /** The first problem the run found, as it reported it; null if none. */
    public synchronized String failure() {
        return failure;
    }

    /** A number as the scenario files write it. */
}
