package org.jiommu.scenario;

/**
 * Where a node of a scenario file starts: file name, 1-based line and column, the way
 * compilers print positions ({@code examples/x.yaml:12:7}).
 */
public record Loc(String file, int line, int column) {
    @Override
    public String toString() {
        return file + ":" + line + ":" + column;
    }
}
