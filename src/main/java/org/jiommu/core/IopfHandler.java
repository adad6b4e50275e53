package org.jiommu.core;

/**
 * {@code domain->iopf_handler}: takes a complete page request group. 0: the handler owns the
 * group and answers it ({@link IommuCore#iopfGroupResponse}) and frees it
 * ({@link IommuCore#iopfFreeGroup}), now or later; non-zero: the core answers FAILURE and frees it.
 * Runs on its IOPF queue's worker thread, with none of the core's or the driver's locks held;
 * {@code iopf_queue_flush_dev} waits for it (docs/pasid-aux.md 6).
 */
@FunctionalInterface
public interface IopfHandler {
    int handle(IopfGroup group);
}
