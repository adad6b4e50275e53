package org.jiommu.base;

/**
 * Where the model reports a kernel WARN: the kernel prints a backtrace and carries on, so the
 * model records the event and carries on the same way (SEMANTICS.md section 12).
 */
@FunctionalInterface
public interface WarningSink {
    /** Ignores every warning (the NO_WARN quirk's effect, or a caller that does not care). */
    WarningSink IGNORE = (where, message) -> { };

    /**
     * @param where the kernel function or rule that warns, e.g. {@code __arm_lpae_map}
     * @param message what went wrong, naming the objects
     */
    void warn(String where, String message);
}
