package org.jiommu.platform;

import java.util.Arrays;
import java.util.List;

/**
 * One option a kind's scenario entry may give ({@code platform.iommus}, SCENARIOS.md): its type
 * and allowed values. The scenario reader type-checks an entry against its kind's table
 * ({@link IommuKind#options}) and hands the kind the checked values in {@link UnitSpec#options}:
 * BOOL as Boolean, INT as Long, WORD as String, WORDS as a list of String, SIZES as a list of Long.
 */
public record KindOption(Type type, long min, long max, List<String> words) {
    public enum Type {
        /** true / false. */
        BOOL,
        /** A number in min..max; if {@code words} is not empty, one of those numbers. */
        INT,
        /** One of {@code words}. */
        WORD,
        /** A list of some of {@code words}. */
        WORDS,
        /** A non-empty list of page sizes, each a power of two of at least 4KiB. */
        SIZES
    }

    public KindOption {
        words = List.copyOf(words);
    }

    public static KindOption bool() {
        return new KindOption(Type.BOOL, 0, 0, List.of());
    }

    public static KindOption range(long min, long max) {
        return new KindOption(Type.INT, min, max, List.of());
    }

    /** A number that must be one of {@code allowed} (e.g. an address width of 39, 48 or 57). */
    public static KindOption numberOf(long... allowed) {
        long min = Arrays.stream(allowed).min().orElseThrow();
        long max = Arrays.stream(allowed).max().orElseThrow();
        return new KindOption(Type.INT, min, max, Arrays.stream(allowed).mapToObj(Long::toString).toList());
    }

    public static KindOption oneOf(String... words) {
        return new KindOption(Type.WORD, 0, 0, List.of(words));
    }

    public static KindOption words(String... words) {
        return new KindOption(Type.WORDS, 0, 0, List.of(words));
    }

    public static KindOption sizes() {
        return new KindOption(Type.SIZES, 0, 0, List.of());
    }

    /**
     * A problem among a unit's options that the table cannot express (one option needs another),
     * reported at the option {@code key} ({@link IommuKind#optionProblems}).
     */
    public record Problem(String key, String message) {
    }
}
