package org.jiommu.core.spi;

/**
 * An {@code iopf_queue} as a driver holds it: allocated through {@link CoreServices}, and named
 * when the driver adds or removes a device (its attach path enables IOPF, v6.16+).
 */
public interface IopfQueueRef {
    /** The queue's name. */
    String name();
}
