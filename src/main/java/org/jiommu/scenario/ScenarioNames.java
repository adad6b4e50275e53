package org.jiommu.scenario;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.scenario.YNode.YScalar;

/**
 * The scenario's one namespace: every name the file declares (IOMMUs, devices, and what steps
 * bind with {@code as}), in declaration order, with its kind and where it was declared; and the
 * references to them, which must name an earlier declaration of the right kind.
 */
final class ScenarioNames {
    /** What a name declared in the file stands for. */
    enum NameKind {
        DEVICE("a device"), IOMMU("an IOMMU"), MM("an address space"), DOMAIN("a domain"),
        NUMBER("a number"), BOOL("a boolean"), HANDLE("an SVA handle"), HEX("a hex value");

        final String what;

        NameKind(String what) {
            this.what = what;
        }
    }

    private record Declared(NameKind kind, Loc loc) {
    }

    private final ScenarioValues values;
    private final ScenarioReaderInput.Limits limits;
    /** One namespace for every name the file declares, in declaration order. */
    private final Map<String, Declared> names = new LinkedHashMap<>();

    ScenarioNames(ScenarioValues values, ScenarioReaderInput.Limits limits) {
        this.values = values;
        this.limits = limits;
    }

    /** Declares the name written at {@code n}; returns it, or null after a problem. */
    String declare(YNode n, NameKind kind) {
        String s = values.string(n, "name");
        if (s == null) {
            return null;
        }
        if (!Names.isIdentifier(s)) {
            values.problem(n.loc(), "'" + s + "' is not a name (letters, digits, _ . -; not starting with a digit)");
            return null;
        }
        if (Names.RESERVED.contains(s)) {
            values.problem(n.loc(), "'" + s + "' is a reserved word in scenarios; choose another name");
            return null;
        }
        Declared d = names.get(s);
        if (d != null) {
            values.problem(n.loc(), "name '" + s + "' is already " + d.kind().what + " (line " + d.loc().line() + ")");
            return null;
        }
        names.put(s, new Declared(kind, n.loc()));
        return s;
    }

    /** A name that must already be declared, as the given kind. */
    String reference(YNode n, String what, NameKind kind) {
        String s = values.string(n, what);
        if (s == null) {
            return null;
        }
        Declared d = names.get(s);
        if (d == null) {
            // Past the problems that will be shown, skip the hint: it scans every declared name.
            List<String> same = values.problemCount() >= limits.maxProblems() ? List.of()
                    : names.entrySet().stream().filter(e -> e.getValue().kind() == kind).map(Map.Entry::getKey).toList();
            values.problem(n.loc(), "undefined name '" + s + "': no " + kind.what.replaceFirst("^an? ", "")
                    + " of that name is declared before this step" + Names.hint(s, same)
                    + (same.isEmpty() ? "" : " (known: " + Names.some(same) + ")"));
            return null;
        }
        if (d.kind() != kind) {
            values.problem(n.loc(), what + ": '" + s + "' is " + d.kind().what + " (line " + d.loc().line() + "), not "
                    + kind.what);
            return null;
        }
        return s;
    }

    Step.NumArg numArg(YNode n, String what) {
        if (n instanceof YScalar sc && sc.type() == YScalar.Type.STRING && Names.isIdentifier(sc.text())
                && !looksNumeric(sc.text())) {
            String ref = reference(n, what, NameKind.NUMBER);
            return ref == null ? null : Step.NumArg.ref(ref);
        }
        Long v = values.number(n, what);
        return v == null ? null : Step.NumArg.of(v);
    }

    private static boolean looksNumeric(String s) {
        return !s.isEmpty() && Character.isDigit(s.charAt(0));
    }
}
