package org.jiommu.cli;

/** Whether output goes to a terminal that shows colours (SCENARIOS.md: colours only on a terminal). */
final class Terminal {
    private Terminal() {
    }

    static boolean colors() {
        // NO_COLOR (no-color.org) and TERM=dumb opt out; a pipe or a file has no console.
        return System.console() != null && System.getenv("NO_COLOR") == null
                && !"dumb".equals(System.getenv("TERM"));
    }
}
