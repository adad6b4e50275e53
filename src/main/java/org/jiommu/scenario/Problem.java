package org.jiommu.scenario;

/** One thing wrong with a scenario file, at a position. */
public record Problem(Loc loc, String message) implements Comparable<Problem> {
    @Override
    public String toString() {
        return loc + ": " + message;
    }

    @Override
    public int compareTo(Problem o) {
        int c = Integer.compare(loc.line(), o.loc.line());
        return c != 0 ? c : Integer.compare(loc.column(), o.loc.column());
    }
}
