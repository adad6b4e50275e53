package org.jiommu.scenario;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A YAML node with the position it starts at. Jackson's tree model drops positions, so the
 * scenario reader builds this small tree from the streaming parser instead.
 */
sealed interface YNode permits YNode.YMap, YNode.YList, YNode.YScalar {
    Loc loc();

    /** What a reader calls this kind of node in a message. */
    String kindName();

    /** A mapping; keys keep their own positions and the file's order. */
    record YMap(Loc loc, LinkedHashMap<String, Entry> entries) implements YNode {
        YMap(Loc loc) {
            this(loc, new LinkedHashMap<>());
        }

        Entry entry(String key) {
            return entries.get(key);
        }

        YNode get(String key) {
            Entry e = entries.get(key);
            return e == null ? null : e.value();
        }

        Map<String, Entry> view() {
            return Collections.unmodifiableMap(entries);
        }

        @Override
        public String kindName() {
            return "a mapping";
        }
    }

    /** One key: value pair of a mapping. */
    record Entry(String key, Loc keyLoc, YNode value) {
    }

    record YList(Loc loc, List<YNode> items) implements YNode {
        YList(Loc loc) {
            this(loc, new ArrayList<>());
        }

        @Override
        public String kindName() {
            return "a list";
        }
    }

    /**
     * A scalar as written. {@code text} is the source text (for a quoted scalar, its content);
     * {@code type} is what YAML's core schema makes of it, which the reader uses only to tell
     * booleans and nulls from text: numbers are parsed from the text with jiommu's own rules.
     */
    record YScalar(Loc loc, String text, Type type) implements YNode {
        enum Type { STRING, NUMBER, BOOLEAN, NULL }

        @Override
        public String kindName() {
            return switch (type) {
                case NULL -> "an empty value";
                case BOOLEAN -> "a boolean";
                case NUMBER -> "a number";
                case STRING -> "a string";
            };
        }
    }
}
