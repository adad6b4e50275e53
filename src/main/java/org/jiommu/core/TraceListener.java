package org.jiommu.core;

/**
 * Receives the core's {@link TraceEvent}s (the CLI prints them, the stress runner records them).
 * Called synchronously on the thread that caused the event, possibly with a group mutex held: a
 * listener must be quick and must not call back into the core.
 */
@FunctionalInterface
public interface TraceListener {
    void onEvent(TraceEvent event);
}
