package org.jiommu.scenario;

import java.util.Collection;
import java.util.Set;
import java.util.regex.Pattern;

/** Rules for the names a scenario declares, and "did you mean" hints. */
final class Names {
    private static final Pattern IDENT = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*");

    /**
     * Words with a meaning of their own in expectations and results: a name spelled like one
     * would make {@code {value: blocked}} ambiguous.
     */
    static final Set<String> RESERVED = Set.of("ok", "warn", "warning", "fault", "default", "blocked",
            "identity", "none", "true", "false", "null");

    private Names() {
    }

    static boolean isIdentifier(String s) {
        return IDENT.matcher(s).matches();
    }

    /** Words longer than this get no "did you mean": the distance costs length squared. */
    private static final int MAX_SUGGEST_LENGTH = 64;
    /** Names listed in a message at most ("known: a, b, ... and N more"). */
    private static final int MAX_LISTED = 10;

    /** The closest candidate within a small edit distance, or null. */
    static String suggest(String word, Collection<String> candidates) {
        if (word.length() > MAX_SUGGEST_LENGTH || candidates.size() > 10_000) {
            return null;
        }
        int limit = Math.max(2, word.length() / 4);
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String c : candidates) {
            if (Math.abs(c.length() - word.length()) > limit) {
                continue; // the distance is at least the length difference
            }
            int d = distance(word, c);
            if (d < bestD) {
                bestD = d;
                best = c;
            }
        }
        return best != null && bestD <= Math.max(2, word.length() / 4) ? best : null;
    }

    /** Up to ten of {@code names}, comma-separated, and how many more there are. */
    static String some(java.util.List<String> names) {
        if (names.size() <= MAX_LISTED) {
            return String.join(", ", names);
        }
        return String.join(", ", names.subList(0, MAX_LISTED)) + " and " + (names.size() - MAX_LISTED) + " more";
    }

    static String hint(String word, Collection<String> candidates) {
        String s = suggest(word, candidates);
        return s == null ? "" : " (did you mean '" + s + "'?)";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
