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

    /** A plant from its time and action. */
    static StressPlant of(When when, java.util.function.Consumer<StressBed> action) {
        return new StressPlant() {
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
