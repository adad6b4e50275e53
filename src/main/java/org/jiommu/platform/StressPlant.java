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

    /** A plant from its time and action. */
    static StressPlant of(When when, java.util.function.Consumer<StressBed> action) {
        return of(when, "", action);
    }

    /** A plant from its time, one-line description and action. */
    static StressPlant of(When when, String description, java.util.function.Consumer<StressBed> action) {
        return new StressPlant() {
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
