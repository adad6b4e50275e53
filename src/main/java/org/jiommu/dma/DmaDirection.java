package org.jiommu.dma;

import org.jiommu.base.Prot;

/** {@code enum dma_data_direction}. */
public enum DmaDirection {
    BIDIRECTIONAL("bidirectional"),
    TO_DEVICE("to-device"),
    FROM_DEVICE("from-device"),
    NONE("none");

    public final String word;

    DmaDirection(String word) {
        this.word = word;
    }

    /**
     * {@code dma_info_to_prot}: the device reads what goes to it and writes what comes from it;
     * a coherent device's mappings are cacheable.
     */
    public int prot(boolean coherent) {
        int prot = coherent ? Prot.CACHE : 0;
        switch (this) {
            case BIDIRECTIONAL: return prot | Prot.READ | Prot.WRITE;
            case TO_DEVICE: return prot | Prot.READ;
            case FROM_DEVICE: return prot | Prot.WRITE;
            default: return 0;
        }
    }

    /** Whether the CPU's data must reach the device ({@code DMA_TO_DEVICE} or bidirectional). */
    public boolean toDevice() {
        return this == TO_DEVICE || this == BIDIRECTIONAL;
    }

    /** Whether the device's data must reach the CPU ({@code DMA_FROM_DEVICE} or bidirectional). */
    public boolean fromDevice() {
        return this == FROM_DEVICE || this == BIDIRECTIONAL;
    }

    /** The direction named by {@code word} (scenario files), or null. */
    public static DmaDirection of(String word) {
        for (DmaDirection d : values()) {
            if (d.word.equals(word)) {
                return d;
            }
        }
        return null;
    }
}
