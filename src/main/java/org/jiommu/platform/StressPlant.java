package org.jiommu.platform;

/**
 * A bug a kind lets a stress run plant on purpose, to show the run reports it: a driver fault
 * (reached through the driver's fault hooks) or a corrupted table in memory.
 */
public interface StressPlant {
    /** When the bug appears. */
    enum When {
        /** Once the platform is built, before the workers start. */
        BUILD,
        /** At the first quiescent point (a kind with the hardware agreement only). */
        FIRST_QUIESCENT_POINT
    }

    When when();

    /** Plants the bug on {@code bed}. */
    void plant(StressBed bed);

    /** What the bug is, in one line ({@code jiommu stress --list-plants}); empty if the kind gives none. */
    default String description() {
        return "";
    }

    /**
     * Why this bug cannot be planted on {@code bed}, or null when it can: a bed derived from a
     * scenario file's own platform may lack the device or the run's part the plant needs (a
     * device the built-in bed names, DMA lanes, the PASID churn). The harness refuses such a run
     * rather than plant nothing; a plant that names a built-in bed device maps it to the bed's
     * device playing the same role where there is one.
     */
    default String unplantable(StressBed bed) {
        return null;
    }

    /** A plant from its time and action. */
    static StressPlant of(When when, java.util.function.Consumer<StressBed> action) {
        return of(when, "", action);
    }

    /** A plant from its time, one-line description and action. */
    static StressPlant of(When when, String description, java.util.function.Consumer<StressBed> action) {
        return of(when, description, bed -> null, action);
    }

    /** A plant from its time, description, {@link #unplantable} test and action. */
    static StressPlant of(When when, String description, java.util.function.Function<StressBed, String> unplantable,
                          java.util.function.Consumer<StressBed> action) {
        return new StressPlant() {
            @Override
            public String unplantable(StressBed bed) {
                return unplantable.apply(bed);
            }

            @Override
            public String description() {
                return description;
            }

            @Override
            public When when() {
                return when;
            }

            @Override
            public void plant(StressBed bed) {
                action.accept(bed);
            }
        };
    }
}
