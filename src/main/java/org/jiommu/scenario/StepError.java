package org.jiommu.scenario;

/**
 * A step that cannot be carried out as written at run time, e.g. it names a value an earlier
 * step failed to bind. The step fails (exit 1); the runner goes on.
 */
final class StepError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    StepError(String message) {
        super(message);
    }
}
