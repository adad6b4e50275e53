package org.jiommu.platform;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The walk a unit's hardware does for one request (source, PASID, address), read from memory
 * or the unit's registers with the kind's own decoders, never from the driver's bookkeeping:
 * each entry it reads with its address, its raw 64-bit words and its decoded fields, then what
 * the walk ends in. {@code jiommu serve} shows it; {@link IommuUnits#walk} makes it.
 *
 * @param unit the unit's name
 * @param sourceId the requester or stream id the request carries
 * @param entries the entries read, in walk order
 * @param result how the walk ends ("translates to 0x4001000", "not present at level 3", ...)
 * @param outputAddress the translated address, or -1 if the walk does not translate
 */
public record HwWalk(String unit, int sourceId, List<Entry> entries, String result, long outputAddress) {
    /**
     * One entry the hardware read.
     *
     * @param name what the entry is ("root entry bus 00", "SL level 4 [0]")
     * @param address where it is in memory, or -1 for a register
     * @param words its raw 64-bit words (a 32-bit register is one word)
     * @param fields its decoded fields, in the manual's names
     */
    public record Entry(String name, long address, long[] words, Map<String, String> fields) {
    }

    /** Collects a walk's entries as a kind decodes them. */
    public static final class Builder {
        private final String unit;
        private final int sourceId;
        private final List<Entry> entries = new ArrayList<>();
        private Map<String, String> fields;

        public Builder(String unit, int sourceId) {
            this.unit = unit;
            this.sourceId = sourceId;
        }

        /** Starts the next entry; {@link #field} adds to it. */
        public Builder entry(String name, long address, long... words) {
            fields = new LinkedHashMap<>();
            entries.add(new Entry(name, address, words.clone(), fields));
            return this;
        }

        public Builder field(String name, Object value) {
            fields.put(name, value instanceof Long l ? Text.format(l) : String.valueOf(value));
            return this;
        }

        public HwWalk end(String result, long outputAddress) {
            return new HwWalk(unit, sourceId, List.copyOf(entries), result, outputAddress);
        }
    }
}
