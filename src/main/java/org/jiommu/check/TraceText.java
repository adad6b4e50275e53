package org.jiommu.check;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads the argument lists and results out of the core's trace texts ({@code TraceEvent.text()}):
 * {@code (D1, a, old=null) = 0} for driver calls, {@code (D1, 0x1000, 0x2000, 0x1000, 3)} for API
 * calls. The core formats longs as {@code %#x}, everything else with {@code toString()}.
 */
final class TraceText {
    private TraceText() {
    }

    /** The comma-separated arguments of a driver event text, without the result; empty if malformed. */
    static List<String> driverArgs(String text) {
        int close = text.lastIndexOf(") = ");
        if (!text.startsWith("(") || close < 0) {
            return List.of();
        }
        return split(text.substring(1, close));
    }

    /** The result part of a driver event text ({@code 0}, {@code 0(OK)}, {@code -22(EINVAL)}, ...). */
    static String driverResult(String text) {
        int close = text.lastIndexOf(") = ");
        return close < 0 ? "" : text.substring(close + 4);
    }

    /** True if a driver result text says 0 (success). */
    static boolean ok(String result) {
        return result.equals("0") || result.startsWith("0(") || result.startsWith("0 ");
    }

    /** The arguments of an API call text {@code (a, b, c)}; empty if malformed. */
    static List<String> callArgs(String text) {
        if (!text.startsWith("(") || !text.endsWith(")")) {
            return List.of();
        }
        return split(text.substring(1, text.length() - 1));
    }

    private static List<String> split(String inner) {
        List<String> out = new ArrayList<>();
        if (inner.isEmpty()) {
            return out;
        }
        int depth = 0;
        int start = 0;
        for (int i = 0; i < inner.length(); i++) {
            char c = inner.charAt(i);
            if (c == '[' || c == '(') {
                depth++;
            } else if (c == ']' || c == ')') {
                depth--;
            } else if (depth == 0 && c == ',' && i + 1 < inner.length() && inner.charAt(i + 1) == ' ') {
                out.add(inner.substring(start, i));
                start = i + 2;
                i++;
            }
        }
        out.add(inner.substring(start));
        return out;
    }

    /** A {@code %#x} (or decimal) number; throws NumberFormatException if it is neither. */
    static long number(String s) {
        if (s.startsWith("0x") || s.startsWith("0X")) {
            return Long.parseUnsignedLong(s.substring(2), 16);
        }
        return Long.parseLong(s);
    }
}
