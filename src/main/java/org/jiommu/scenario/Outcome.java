package org.jiommu.scenario;

import java.util.List;
import org.jiommu.base.Errno;

/** What happened when a step ran, before it is compared with the expectation. */
public sealed interface Outcome {
    /** The result column of the step's line. */
    String show();

    /** The call succeeded; {@code value} is null for a void call. */
    record Returned(Value value) implements Outcome {
        @Override
        public String show() {
            return value == null ? "done" : value.show();
        }
    }

    /** The call failed with an errno; {@code message} is the model's explanation. */
    record Failed(Errno errno, String message) implements Outcome {
        @Override
        public String show() {
            return "-" + errno.name();
        }
    }

    /** A void call hit a kernel WARN (SEMANTICS.md: record it and carry on). */
    record Warned(List<String> warnings) implements Outcome {
        @Override
        public String show() {
            return "warning";
        }
    }

    /** A DMA was translated; the first byte went to {@code paddr}. */
    record Translated(long paddr, byte[] data) implements Outcome {
        @Override
        public String show() {
            return "paddr " + Numbers.format(paddr);
        }
    }

    /** A DMA was refused by the IOMMU. */
    record Faulted(Expectation.FaultReason reason, String detail) implements Outcome {
        @Override
        public String show() {
            return "fault" + (reason == null ? "" : " " + reason.word);
        }
    }

    /** A DMA API map returned {@code DMA_MAPPING_ERROR} (dma_map_sg: 0). */
    record MappingError() implements Outcome {
        @Override
        public String show() {
            return "dma-mapping-error";
        }
    }

    /** The invariant checker's findings. */
    record Checked(List<String> violations) implements Outcome {
        @Override
        public String show() {
            return violations.size() + " violation" + (violations.size() == 1 ? "" : "s");
        }
    }

    /** Printed output (hw_dump, stats). */
    record Report(String text) implements Outcome {
        @Override
        public String show() {
            return "done";
        }
    }

    /**
     * The step could not be carried out as written at run time (a name an earlier failed step
     * did not bind, a model error): always a failed step, never a crash of the runner.
     */
    record Error(String message) implements Outcome {
        @Override
        public String show() {
            return "error";
        }
    }
}
