package org.jiommu.scenario;

import java.util.List;

/**
 * A file that is not a valid scenario: every problem found in it, in file order. Nothing
 * of it has run (SCENARIOS.md: exit 2 before any step runs).
 */
public final class InvalidScenarioException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient List<Problem> problems;
    private final int total;

    public InvalidScenarioException(List<Problem> problems) {
        this(problems, problems.size());
    }

    /**
     * @param problems the problems to show (the first ones, when a file has very many)
     * @param total how many were found
     */
    public InvalidScenarioException(List<Problem> problems, int total) {
        super(problems.isEmpty() ? "invalid scenario" : problems.get(0).toString());
        this.problems = List.copyOf(problems);
        this.total = Math.max(total, problems.size());
    }

    /** The problems to show, in file order. */
    public List<Problem> problems() {
        return problems;
    }

    /** How many problems the file has; more than {@link #problems()} holds when the list was cut. */
    public int total() {
        return total;
    }
}
