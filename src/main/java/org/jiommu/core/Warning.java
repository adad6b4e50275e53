package org.jiommu.core;

/**
 * A kernel WARN the model recorded (SEMANTICS.md 12: record, then carry on as the kernel does).
 *
 * @param seq the trace sequence number of the event
 * @param where the kernel function or rule that warns
 * @param message what went wrong, naming the objects
 * @param carriesOn the kernel goes on changing state after this WARN (a {@code nofail} path that
 *     moves the other devices, a PASID removal whose slot is erased anyway); false for a WARN
 *     that refuses a misused call and leaves everything as it was
 */
public record Warning(long seq, String where, String message, boolean carriesOn) {
    /** A WARN that refuses: nothing changed. */
    public Warning(long seq, String where, String message) {
        this(seq, where, message, false);
    }

    @Override
    public String toString() {
        return "WARN " + where + ": " + message;
    }
}
