package org.jiommu.bench;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * One named benchmark case: how to build its {@link Fixture}, what its figure means, and the
 * kernel's same-sitting figure where one exists.
 *
 * @param name {@code group/operation}, e.g. {@code arm-lpae-s1/map-4k}; what users select on the command line
 * @param description one line for {@code jiommu bench --list}
 * @param unit what the figure is
 * @param fixture a new fixture per call (one per measuring thread)
 * @param reference the kernel's figure for the same operation, or null
 */
public record BenchCase(String name, String description, Unit unit, Supplier<Fixture> fixture,
                        KernelReference reference) {
    public BenchCase {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(unit, "unit");
        Objects.requireNonNull(fixture, "fixture");
    }

    /** How a case's figure is expressed. */
    public enum Unit {
        /** Nanoseconds per call as one thread sees it (lower is better). */
        NS_PER_OP("ns/op"),
        /** Millions of calls per second over all threads (higher is better). */
        MOPS_PER_S("M/s");

        private final String label;

        Unit(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }
}
