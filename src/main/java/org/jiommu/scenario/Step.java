package org.jiommu.scenario;

import java.util.Map;

/**
 * One validated step. {@code args} hold checked values by argument name (see
 * {@link ArgType}: names as String, numbers as {@link NumArg}, prot as Integer, data as
 * byte[], a device entry as {@link DeviceSpec}); {@code written} is the step as the file
 * wrote it, for the output line.
 */
public record Step(
        int number,
        Loc loc,
        OpSpec op,
        Map<String, Object> args,
        Map<String, Loc> argLocs,
        String written,
        Expectation expect,
        Loc expectLoc,
        String as,
        String note) {

    /** A number argument: a literal, or a name bound by an earlier step. */
    public record NumArg(long literal, String ref) {
        static NumArg of(long v) {
            return new NumArg(v, null);
        }

        static NumArg ref(String name) {
            return new NumArg(0, name);
        }

        @Override
        public String toString() {
            return ref != null ? ref : Numbers.format(literal);
        }
    }
}
