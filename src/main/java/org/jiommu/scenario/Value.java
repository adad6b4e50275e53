package org.jiommu.scenario;

import java.util.HexFormat;

/**
 * A step's result at run time, and what a name bound with 'as' holds. Domains and handles
 * hold the core's own object: names compare by identity, like kernel pointers.
 */
public sealed interface Value {
    /** How the result column prints it. */
    String show();

    record Num(long value) implements Value {
        @Override
        public String show() {
            return Numbers.format(value);
        }
    }

    record Bool(boolean value) implements Value {
        @Override
        public String show() {
            return Boolean.toString(value);
        }
    }

    /**
     * A domain: the core's object plus the name it is shown by (the binding that holds it, or
     * default / blocked / identity for the core's own domains).
     */
    record Domain(Object domain, String name) implements Value {
        @Override
        public String show() {
            return name;
        }
    }

    /** An SVA bond (struct iommu_sva). */
    record Handle(Object handle, String name) implements Value {
        @Override
        public String show() {
            return name;
        }
    }

    record Hex(byte[] bytes) implements Value {
        @Override
        public String show() {
            return HexFormat.of().formatHex(bytes);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Hex h && java.util.Arrays.equals(bytes, h.bytes);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(bytes);
        }
    }
}
