package org.jiommu.scenario;

import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.jiommu.scenario.YNode.Entry;
import org.jiommu.scenario.YNode.YList;
import org.jiommu.scenario.YNode.YMap;
import org.jiommu.scenario.YNode.YScalar;

/**
 * The scenario reader's shared value helpers: each reads one YAML node as a string, word,
 * boolean, number, list or hex bytes and, when the node is not one, records a problem at the
 * node's own line:column (the file's positions are {@link YNode#loc()}). Every part of the
 * reader (platform, devices, names, steps) reports into the one problem list kept here.
 */
final class ScenarioValues {
    private final List<Problem> problems;

    ScenarioValues(List<Problem> problems) {
        this.problems = problems;
    }

    void problem(Loc loc, String message) {
        problems.add(new Problem(loc, message));
    }

    int problemCount() {
        return problems.size();
    }

    void unknownKeys(YMap map, Set<String> allowed, String where) {
        for (Entry e : map.entries().values()) {
            if (!allowed.contains(e.key())) {
                problem(e.keyLoc(), "unknown key '" + e.key() + "' in " + where + Names.hint(e.key(), allowed)
                        + " (allowed: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        }
    }

    YList listOf(YNode n, String what) {
        if (n == null || isNull(n)) {
            return null;
        }
        if (n instanceof YList l) {
            return l;
        }
        problem(n.loc(), "'" + what + "' must be a list; found " + n.kindName());
        return null;
    }

    static boolean isNull(YNode n) {
        return n instanceof YScalar s && s.type() == YScalar.Type.NULL;
    }

    /** Any scalar's text (a token, a bdf, hex data). */
    String scalarText(YNode n, String what) {
        if (n instanceof YScalar s && s.type() != YScalar.Type.NULL) {
            return s.text();
        }
        problem(n.loc(), what + ": expected a string, found " + n.kindName());
        return null;
    }

    /** A string scalar (not a number, boolean or null). */
    String string(YNode n, String what) {
        if (n instanceof YScalar s && s.type() == YScalar.Type.STRING) {
            return s.text();
        }
        problem(n.loc(), what + ": expected a string, found " + n.kindName()
                + (n instanceof YScalar s && s.type() != YScalar.Type.NULL ? " '" + s.text() + "'" : ""));
        return null;
    }

    String word(YNode n, String what, List<String> allowed) {
        String s = scalarText(n, what);
        if (s == null) {
            return null;
        }
        if (!allowed.contains(s)) {
            problem(n.loc(), what + ": '" + s + "' is not one of " + String.join(", ", allowed) + Names.hint(s, allowed));
            return null;
        }
        return s;
    }

    Boolean bool(YNode n, String what) {
        if (n instanceof YScalar s && s.type() == YScalar.Type.BOOLEAN) {
            return Boolean.parseBoolean(s.text().toLowerCase(java.util.Locale.ROOT));
        }
        problem(n.loc(), what + ": expected true or false, found " + n.kindName()
                + (n instanceof YScalar s && s.type() != YScalar.Type.NULL ? " '" + s.text() + "'" : ""));
        return null;
    }

    Long number(YNode n, String what) {
        if (!(n instanceof YScalar s) || s.type() == YScalar.Type.NULL || s.type() == YScalar.Type.BOOLEAN) {
            problem(n.loc(), what + ": expected a number, found " + n.kindName());
            return null;
        }
        try {
            return Numbers.parse(s.text());
        } catch (Numbers.BadNumber e) {
            problem(n.loc(), what + ": " + e.getMessage());
            return null;
        }
    }

    byte[] hex(YNode n, String what) {
        String s = scalarText(n, what);
        if (s == null) {
            return null;
        }
        String h = s.startsWith("0x") ? s.substring(2) : s;
        h = h.replace("_", "").replace(" ", "");
        if (h.isEmpty() || h.length() % 2 != 0) {
            problem(n.loc(), what + ": '" + s + "' is not a whole number of hex bytes");
            return null;
        }
        try {
            return HexFormat.of().parseHex(h);
        } catch (IllegalArgumentException e) {
            problem(n.loc(), what + ": '" + s + "' is not a hex string");
            return null;
        }
    }
}
