package org.jiommu.scenario;

/**
 * Numbers as scenario files write them: decimal ({@code 4096}), hexadecimal ({@code 0x1000}),
 * or a decimal/hex count with a binary unit ({@code 4KiB}, {@code 2MiB}, {@code 1GiB},
 * {@code 1TiB}, {@code 4PiB} (the largest memory), {@code 1EiB}; the short forms {@code 4k},
 * {@code 2m}, {@code 1g}, {@code 1t}, {@code 4p} mean the same; there is no short {@code e},
 * which is a hex digit).
 * Underscores may group digits ({@code 0xffff_f000}). Values are unsigned 64-bit, held in a
 * long (so {@code 0xffffffffffffffff} is -1L).
 */
public final class Numbers {
    private Numbers() {
    }

    /** Thrown with a message a scenario author can act on. */
    public static final class BadNumber extends Exception {
        private static final long serialVersionUID = 1L;

        BadNumber(String message) {
            super(message);
        }
    }

    public static long parse(String text) throws BadNumber {
        String s = text.trim();
        if (s.isEmpty()) {
            throw new BadNumber("bad number '': empty");
        }
        int shift = 0;
        String digits = s;
        String[][] units = {{"KiB", "10"}, {"MiB", "20"}, {"GiB", "30"}, {"TiB", "40"}, {"PiB", "50"}, {"EiB", "60"},
            {"k", "10"}, {"K", "10"}, {"m", "20"}, {"M", "20"}, {"g", "30"}, {"G", "30"}, {"t", "40"}, {"T", "40"},
            {"p", "50"}, {"P", "50"}};
        boolean hex = s.startsWith("0x") || s.startsWith("0X");
        for (String[] u : units) {
            // A hex number may end in no unit letter that is also a hex digit; none of the
            // unit suffixes are hex digits, so one check fits both bases.
            if (s.endsWith(u[0]) && s.length() > u[0].length()) {
                digits = s.substring(0, s.length() - u[0].length());
                shift = Integer.parseInt(u[1]);
                break;
            }
        }
        if (shift == 0 && (s.endsWith("KB") || s.endsWith("MB") || s.endsWith("GB") || s.endsWith("kB")
                || s.endsWith("TB") || s.endsWith("PB"))) {
            throw new BadNumber("bad number '" + text + "': write binary units as KiB, MiB, GiB, TiB, PiB");
        }
        long value = parseBare(digits, hex, text);
        if (shift > 0) {
            if (Long.numberOfLeadingZeros(value) < shift && value != 0) {
                throw new BadNumber("bad number '" + text + "': larger than 64 bits");
            }
            value <<= shift;
        }
        return value;
    }

    private static long parseBare(String digits, boolean hex, String text) throws BadNumber {
        String d = hex ? digits.substring(2) : digits;
        if (d.isEmpty() || d.startsWith("_") || d.endsWith("_") || d.contains("__")) {
            throw new BadNumber("bad number '" + text + "'" + (hex ? ": no hex digits" : ""));
        }
        int radix = hex ? 16 : 10;
        long value = 0;
        for (int i = 0; i < d.length(); i++) {
            char c = d.charAt(i);
            if (c == '_') {
                continue;
            }
            int v = Character.digit(c, radix);
            if (v < 0) {
                throw new BadNumber("bad number '" + text + "': '" + c + "' is not a "
                        + (hex ? "hex" : "decimal") + " digit" + (hex ? "" : " (use 0x for hex, or a unit: 4KiB)"));
            }
            if (hex) {
                if ((value >>> 60) != 0) {
                    throw new BadNumber("bad number '" + text + "': larger than 64 bits");
                }
                value = value << 4 | v;
            } else {
                if (Long.compareUnsigned(value, Long.divideUnsigned(-1L, 10)) > 0) {
                    throw new BadNumber("bad number '" + text + "': larger than 64 bits");
                }
                long next = value * 10 + v;
                if (Long.compareUnsigned(next, value * 10) < 0) {
                    throw new BadNumber("bad number '" + text + "': larger than 64 bits");
                }
                value = next;
            }
        }
        return value;
    }

    /** A size the way a person writes it: 4KiB, 2MiB, 8GiB when exact, else as {@link #format}. */
    public static String formatSize(long v) {
        return org.jiommu.platform.Text.formatSize(v);
    }

    /** Hex for addresses, decimal for small counts: how results are printed. */
    public static String format(long v) {
        return org.jiommu.platform.Text.format(v);
    }
}
