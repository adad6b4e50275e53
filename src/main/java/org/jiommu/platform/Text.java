package org.jiommu.platform;

/** How numbers are printed in results, dumps and statistics: one rule for every floor. */
public final class Text {
    private Text() {
    }

    /** Hex for addresses, decimal for small counts. */
    public static String format(long v) {
        if (v >= 0 && v < 4096) {
            return Long.toString(v);
        }
        return "0x" + Long.toHexString(v);
    }

    /** A size in the largest binary unit that divides it ("2MiB"), else as {@link #format}. */
    public static String formatSize(long v) {
        String[] units = {"EiB", "PiB", "TiB", "GiB", "MiB", "KiB"};
        int[] shifts = {60, 50, 40, 30, 20, 10};
        for (int i = 0; i < units.length; i++) {
            if (v > 0 && (v & ((1L << shifts[i]) - 1)) == 0) {
                return (v >>> shifts[i]) + units[i];
            }
        }
        return format(v);
    }
}
