package org.jiommu.scenario;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One thing wrong with a scenario file, at a position. */
public record Problem(Loc loc, String message) implements Comparable<Problem> {
    /** A quoted echo of the file's text longer than this is shortened in the printed line. */
    private static final int MAX_ECHO = 80;
    /** A quoted word (no spaces: a name, key or number as written) longer than {@link #MAX_ECHO}. */
    private static final Pattern LONG_QUOTE = Pattern.compile("'([^'\\s]{" + (MAX_ECHO + 1) + ",})'");
    /** The longest message printed whole; the rest is cut (a one-line message stays readable). */
    private static final int MAX_MESSAGE = 1000;

    /** The one printed line: position, message, with the file's text made safe to show. */
    @Override
    public String toString() {
        return printable(loc.toString()) + ": " + printable(shorten(message));
    }

    @Override
    public int compareTo(Problem o) {
        int c = Integer.compare(loc.line(), o.loc.line());
        return c != 0 ? c : Integer.compare(loc.column(), o.loc.column());
    }

    /**
     * {@code s} with every control character, DEL, C1 code and bidirectional override written as
     * an escape ({@code \x1b}, {@code \u202e}), so that echoing a file's text can neither drive
     * the terminal nor reorder or break the line.
     */
    public static String printable(String s) {
        StringBuilder sb = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            // FORMAT characters (zero-width space, joiners) are invisible: shown as escapes too.
            boolean bad = ScenarioReaderInput.isRefused(c) || c == '\n' || c == '\r' || c == '\t'
                    || Character.getType(c) == Character.FORMAT;
            if (bad && sb == null) {
                sb = new StringBuilder(s.length() + 8).append(s, 0, i);
            }
            if (sb != null) {
                if (!bad) {
                    sb.append(c);
                } else if (c == '\n') {
                    sb.append("\\n");
                } else if (c == '\t') {
                    sb.append("\\t");
                } else if (c < 0x100) {
                    sb.append(String.format("\\x%02x", (int) c));
                } else {
                    sb.append(String.format("\\u%04x", (int) c));
                }
            }
        }
        return sb == null ? s : sb.toString();
    }

    /** Quoted echoes over {@link #MAX_ECHO} characters keep their start and end and their length. */
    private static String shorten(String m) {
        if (m.length() <= MAX_ECHO) {
            return m;
        }
        Matcher q = LONG_QUOTE.matcher(m);
        StringBuilder sb = new StringBuilder();
        while (q.find()) {
            String t = q.group(1);
            q.appendReplacement(sb, Matcher.quoteReplacement("'" + t.substring(0, 48) + "..."
                    + t.substring(t.length() - 16) + "' (" + t.length() + " characters)"));
        }
        q.appendTail(sb);
        return sb.length() <= MAX_MESSAGE ? sb.toString()
                : sb.substring(0, MAX_MESSAGE) + "... (" + (sb.length() - MAX_MESSAGE) + " more characters)";
    }
}
