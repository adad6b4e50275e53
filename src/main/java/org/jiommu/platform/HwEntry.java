package org.jiommu.platform;

/**
 * One translation entry as the hardware reads it from memory, in the words the generic
 * agreement check (I7) needs: what kind of translation it gives and which table it points at.
 * {@code text} is the kind's description of the whole entry; {@code fields} the kind's decoded
 * record for its own field rules.
 */
public record HwEntry(Kind kind, long table, String text, Object fields) {
    public enum Kind { NONE, PAGING, FIRST_LEVEL, PASS_THROUGH, INVALID }

    public static final HwEntry NONE = new HwEntry(Kind.NONE, 0, "not present", null);

    @Override
    public String toString() {
        return text;
    }
}
