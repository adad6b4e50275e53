package org.jiommu.bench;

/**
 * The state one benchmark case measures, built fresh per thread (JMH's {@code Scope.Thread}).
 * The harness calls {@link #prepare()} outside the timed region before every batch (JMH's
 * {@code Level.Invocation} set-up: e.g. clear the leaves a map batch is about to write) and
 * times {@link #batch()} alone; the figure is the batch time divided by {@link #opsPerBatch()}.
 */
public interface Fixture {
    /** Calls one {@link #batch()} makes; the figure is per call. */
    int opsPerBatch();

    /** Restores the state the next batch needs; not timed. */
    default void prepare() {
    }

    /**
     * The measured work. Returns a value derived from every call's result, which the harness
     * folds into a published sink, so the JIT cannot drop the calls (the blackhole).
     */
    long batch();

    /** Releases what the fixture holds (page-table frames); called once at the end. */
    default void close() {
    }
}
