package org.jiommu.core;

/**
 * A kernel WARN the model recorded (SEMANTICS.md 12: record, then carry on as the kernel does).
 *
 * @param seq the trace sequence number of the event
 * @param where the kernel function or rule that warns
 * @param message what went wrong, naming the objects
 */
public record Warning(long seq, String where, String message) {
    @Override
    public String toString() {
        return "WARN " + where + ": " + message;
    }
}
