package org.jiommu.scenario;

import java.util.List;

/**
 * A file that is not a valid scenario: every problem found in it, in file order. Nothing
 * of it has run (SCENARIOS.md: exit 2 before any step runs).
 */
public final class InvalidScenarioException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient List<Problem> problems;

    public InvalidScenarioException(List<Problem> problems) {
        super(problems.isEmpty() ? "invalid scenario" : problems.get(0).toString());
        this.problems = List.copyOf(problems);
    }

    public List<Problem> problems() {
        return problems;
    }
}
