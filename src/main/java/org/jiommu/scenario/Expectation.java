package org.jiommu.scenario;

import org.jiommu.base.Errno;

/** A step's {@code expect:} (SCENARIOS.md "Expectations"). */
public sealed interface Expectation {
    /** As the file would write it; printed next to a failed step. */
    String show();

    record Ok() implements Expectation {
        @Override
        public String show() {
            return "ok";
        }
    }

    /** The call failed with exactly this errno. */
    record Err(Errno errno) implements Expectation {
        @Override
        public String show() {
            return "-" + errno.name();
        }
    }

    /** The call returned this value. */
    record Returns(Expected value) implements Expectation {
        @Override
        public String show() {
            return "{value: " + value.show() + "}";
        }
    }

    /** A DMA API map failed with {@code DMA_MAPPING_ERROR}. */
    record MappingError() implements Expectation {
        @Override
        public String show() {
            return "dma-mapping-error";
        }
    }

    /** A dma step was translated to this physical address. */
    record Paddr(Expected paddr) implements Expectation {
        @Override
        public String show() {
            return "{paddr: " + paddr.show() + "}";
        }
    }

    /** A dma step was refused; {@code reason} null means any reason. */
    record Fault(FaultReason reason) implements Expectation {
        @Override
        public String show() {
            return reason == null ? "fault" : "{fault: " + reason.word + "}";
        }
    }

    record Violations(long count) implements Expectation {
        @Override
        public String show() {
            return "{violations: " + count + "}";
        }
    }

    /** A void call answered with a kernel WARN and changed nothing. */
    record Warn() implements Expectation {
        @Override
        public String show() {
            return "warn";
        }
    }

    /** The value side of {value: V} / {paddr: PA}: a literal or a bound name. */
    sealed interface Expected {
        String show();
    }

    record Literal(Value value) implements Expected {
        @Override
        public String show() {
            return value instanceof Value.Hex ? "\"" + value.show() + "\"" : value.show();
        }
    }

    /** A bound name: the step must return what the name holds. */
    record Ref(String name) implements Expected {
        @Override
        public String show() {
            return name;
        }
    }

    /** default / blocked / identity: the core's own domains of the device's group or driver. */
    record CoreDomain(String word) implements Expected {
        @Override
        public String show() {
            return word;
        }
    }

    /** Why the IOMMU refused a DMA, in the words scenarios use. */
    enum FaultReason {
        NOT_PRESENT("not-present"),
        PERMISSION("permission"),
        BLOCKED("blocked"),
        BAD_PASID("bad-pasid"),
        OUT_OF_RANGE("out-of-range");

        public final String word;

        FaultReason(String word) {
            this.word = word;
        }

        static FaultReason of(String word) {
            for (FaultReason r : values()) {
                if (r.word.equals(word)) {
                    return r;
                }
            }
            return null;
        }
    }
}
