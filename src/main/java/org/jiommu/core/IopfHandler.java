package org.jiommu.core;

/**
 * {@code domain->iopf_handler}: takes a complete page request group. 0: the handler owns the
 * group and answers it ({@link IommuCore#iopfGroupResponse}) and frees it
 * ({@link IommuCore#iopfFreeGroup}), now or later; non-zero: the core answers FAILURE and frees it.
 * Runs on the reporting thread with none of the core's locks held.
 */
@FunctionalInterface
public interface IopfHandler {
    int handle(IopfGroup group);
}
