package org.jiommu.scenario;

/**
 * Where a node of a scenario file starts: file name, 1-based line and column, the way
 * compilers print positions ({@code examples/x.yaml:12:7}). Line 0 means the file as a whole
 * (it cannot be read, or is too large to be): printed as the file name alone.
 */
public record Loc(String file, int line, int column) {
    /** The file as a whole, for problems that have no position in it. */
    public static Loc whole(String file) {
        return new Loc(file, 0, 0);
    }

    /** True if this names a line and column. */
    public boolean hasPosition() {
        return line > 0;
    }

    @Override
    public String toString() {
        return hasPosition() ? file + ":" + line + ":" + column : file;
    }
}
