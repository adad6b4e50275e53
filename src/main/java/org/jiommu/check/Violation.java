package org.jiommu.check;

import java.util.Objects;

/**
 * One broken invariant: which one, and a message naming the objects involved. The message is
 * worded from the objects alone (no counters, no sequence numbers), so the same damage found
 * again after a later call gives an equal violation.
 *
 * @param invariant the invariant
 * @param message what is wrong, naming groups, devices and domains
 */
public record Violation(Invariant invariant, String message) {
    public Violation {
        Objects.requireNonNull(invariant, "invariant");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return invariant.id() + ": " + message;
    }
}
