package org.jiommu.base;

/**
 * Hexadecimal text as {@code String.format("%#x", v)} gives it ({@code 0x} and the two's
 * complement digits, {@code 0x0} for zero), without the formatter: trace and driver-log lines are
 * built on every traced call, and the stress harness traces every call. The one helper for it
 * (hardware-view labels, the stress repro log and the drivers' texts use it too).
 */
public final class Hex {
    private Hex() {
    }

    /** {@code String.format("%#x", v)} of a long. */
    public static String of(long v) {
        return "0x" + Long.toHexString(v);
    }
}
