package org.jiommu.core;

/**
 * One thing the core did, as a trace listener receives it (ARCHITECTURE.md "Observability").
 *
 * @param seq order of the event in this core, from 1
 * @param kind what sort of event
 * @param function the kernel function ({@code iommu_attach_group}, {@code attach_dev}, ...)
 * @param text arguments and result, human readable
 */
public record TraceEvent(long seq, Kind kind, String function, String text) {
    public enum Kind {
        /** A public core API was entered. */
        CALL,
        /** A public core API returned normally. */
        RETURN,
        /** A public core API failed with an errno. */
        ERROR,
        /** The core called a driver op. */
        DRIVER,
        /** A kernel WARN: recorded, then the model carried on as the kernel does. */
        WARN,
        /** A kernel log line (dev_warn, dev_err, pr_info ...), not a WARN. */
        LOG
    }

    @Override
    public String toString() {
        return String.format("%5d %-6s %s %s", seq, kind, function, text);
    }
}
