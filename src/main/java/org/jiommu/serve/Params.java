package org.jiommu.serve;

import java.util.Map;

/** Query parameters of the API: required ones, and numbers written as in a scenario (decimal or 0x hex). */
final class Params {
    private Params() {
    }

    static String required(Map<String, String> q, String name) {
        String v = q.get(name);
        if (v == null || v.isEmpty()) {
            throw new BadRequest("missing parameter " + name);
        }
        return v;
    }

    /** A non-negative number: decimal, or hex with 0x; a size suffix is not accepted here. */
    static long number(Map<String, String> q, String name) {
        String v = required(q, name).trim().replace("_", "");
        try {
            long n = v.startsWith("0x") || v.startsWith("0X") ? Long.parseUnsignedLong(v.substring(2), 16)
                    : Long.parseLong(v);
            if (n < 0 && !(v.startsWith("0x") || v.startsWith("0X"))) {
                throw new BadRequest(name + "=" + v + ": must not be negative");
            }
            return n;
        } catch (NumberFormatException e) {
            throw new BadRequest(name + "=" + v + ": not a number (decimal or 0x hex)");
        }
    }
}
