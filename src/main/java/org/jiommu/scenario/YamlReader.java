package org.jiommu.scenario;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.util.List;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * Reads a YAML text into a {@link YNode} tree carrying the line and column of every node,
 * from Jackson's streaming parser ({@code currentTokenLocation()} is 1-based for YAML).
 * Problems such as a duplicate key are collected; a syntax error ends the read, and so does
 * going over a limit ({@link ScenarioReaderInput.Limits}: nesting depth, node count), reported
 * as a limit at the node that crossed it. Anchors and aliases are refused: a scenario writes
 * every value out, and an alias would otherwise read as a plain string (Jackson's streaming
 * parser does not expand it).
 */
final class YamlReader {
    private final String file;
    private final List<Problem> problems;
    private final ScenarioReaderInput.Limits limits;
    private JsonParser parser;
    private int depth;
    private int nodes;
    /** Set when a limit was crossed: the read stops there. */
    private boolean stopped;

    private YamlReader(String file, List<Problem> problems, ScenarioReaderInput.Limits limits) {
        this.file = file;
        this.problems = problems;
        this.limits = limits;
    }

    /**
     * A parser factory whose own caps sit above jiommu's documented ones (the file size is
     * checked before parsing; depth and node counts here), so a file is refused by a limit
     * jiommu names, never by SnakeYAML's undocumented 3M code-point cap as a "syntax error".
     */
    private static YAMLFactory factory(ScenarioReaderInput.Limits limits) {
        LoaderOptions lo = new LoaderOptions();
        lo.setCodePointLimit((int) Math.min(Integer.MAX_VALUE, limits.maxBytes() + 1));
        lo.setNestingDepthLimit(limits.maxDepth() + 16);
        return YAMLFactory.builder().loaderOptions(lo)
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(limits.maxDepth() + 16)
                        .maxStringLength((int) Math.min(Integer.MAX_VALUE, limits.maxBytes() + 1)).build())
                .build();
    }

    /**
     * Parses {@code text}; returns the root node, or null after adding a problem (syntax error,
     * empty file) to {@code problems}.
     */
    static YNode read(String file, String text, List<Problem> problems, ScenarioReaderInput.Limits limits) {
        return new YamlReader(file, problems, limits).readRoot(text);
    }

    private YNode readRoot(String text) {
        try (JsonParser p = factory(limits).createParser(text)) {
            parser = p;
            JsonToken t = p.nextToken();
            if (t == null) {
                problems.add(new Problem(new Loc(file, 1, 1), "empty file: a scenario needs 'name' and 'steps'"));
                return null;
            }
            YNode root = readValue(t);
            if (stopped) {
                return null;
            }
            JsonToken more = p.nextToken();
            if (more != null) {
                problems.add(new Problem(here(), "a scenario file holds one YAML document; remove the second one"));
            }
            return root;
        } catch (JsonProcessingException e) {
            JsonLocation l = e.getLocation();
            Loc loc = l == null ? new Loc(file, 1, 1) : new Loc(file, Math.max(1, l.getLineNr()), Math.max(1, l.getColumnNr()));
            problems.add(new Problem(loc, "YAML syntax error: " + firstLine(e.getOriginalMessage())));
            return null;
        } catch (IOException e) {
            problems.add(new Problem(new Loc(file, 1, 1), "cannot read: " + e.getMessage()));
            return null;
        }
    }

    /**
     * SnakeYAML's message in one line: its context and problem lines ("while scanning a simple
     * key", "could not find expected ':'"), without the marks and source excerpts between them.
     */
    private static String firstLine(String message) {
        if (message == null) {
            return "unreadable YAML";
        }
        StringBuilder sb = new StringBuilder();
        for (String l : message.split("\n")) {
            if (!l.isEmpty() && !Character.isWhitespace(l.charAt(0)) && sb.length() < 300) {
                sb.append(sb.length() == 0 ? "" : "; ").append(l.trim());
            }
        }
        return sb.length() == 0 ? message.trim() : sb.toString();
    }

    private Loc here() {
        JsonLocation l = parser.currentTokenLocation();
        return new Loc(file, Math.max(1, l.getLineNr()), Math.max(1, l.getColumnNr()));
    }

    /** Refuses what a scenario's YAML may not use at the current token; false after a limit. */
    private boolean admit(Loc loc) throws IOException {
        if (++nodes > limits.maxNodes()) {
            limit(loc, "more than " + limits.maxNodes() + " YAML values in one file", "maxNodes");
            return false;
        }
        if (parser instanceof YAMLParser y) {
            if (y.isCurrentAlias()) {
                problems.add(new Problem(loc, "YAML alias '*" + y.getText() + "' is not supported: scenario files "
                        + "write every value out (no anchors or aliases)"));
            } else if (y.getCurrentAnchor() != null) {
                problems.add(new Problem(loc, "YAML anchor '&" + y.getCurrentAnchor() + "' is not supported: "
                        + "scenario files write every value out (no anchors or aliases)"));
            }
            String tag = y.getTypeId();
            if (tag != null) {
                // !!binary, !!python/... and local tags would give a value a meaning of its own;
                // scenario values are plain text read by jiommu's own rules.
                problems.add(new Problem(loc, "YAML tag '" + (tag.startsWith("tag:yaml.org,2002:") ? "!!"
                        + tag.substring("tag:yaml.org,2002:".length()) : tag.startsWith("!") ? tag : "!" + tag) + "' is not supported: write the plain value"));
            }
        }
        return true;
    }

    private void limit(Loc loc, String what, String name) {
        problems.add(new Problem(loc, "limit: " + what + " (docs/scenarios.md \"Limits\"; -Djiommu.scenario."
                + name + " changes it); nothing after this point was read"));
        stopped = true;
    }

    /** Text of a scalar or key; control characters (YAML escapes such as "\e") are refused. */
    private String text(Loc loc, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\n' && c != '\t' && ScenarioReaderInput.isRefused(c)) {
                problems.add(new Problem(loc, "control character " + ScenarioReaderInput.describe(c)
                        + " in a string (written as an escape); scenario text has none"));
                break;
            }
        }
        return s;
    }

    private YNode readValue(JsonToken t) throws IOException {
        Loc loc = here();
        if (!admit(loc)) {
            return null;
        }
        switch (t) {
            case START_OBJECT:
            case START_ARRAY:
                if (++depth > limits.maxDepth()) {
                    limit(loc, "nesting deeper than " + limits.maxDepth() + " levels", "maxDepth");
                    return null;
                }
                YNode c = t == JsonToken.START_OBJECT ? readMap(loc) : readList(loc);
                depth--;
                return c;
            case VALUE_STRING:
                return new YNode.YScalar(loc, text(loc, parser.getText()), YNode.YScalar.Type.STRING);
            case VALUE_NUMBER_INT:
            case VALUE_NUMBER_FLOAT:
                return new YNode.YScalar(loc, parser.getText(), YNode.YScalar.Type.NUMBER);
            case VALUE_TRUE:
            case VALUE_FALSE:
                return new YNode.YScalar(loc, parser.getText(), YNode.YScalar.Type.BOOLEAN);
            case VALUE_NULL:
                return new YNode.YScalar(loc, parser.getText() == null ? "" : parser.getText(), YNode.YScalar.Type.NULL);
            default:
                // Embedded objects (binary !!binary) and the like have no meaning in a scenario.
                return new YNode.YScalar(loc, text(loc, String.valueOf(parser.getText())), YNode.YScalar.Type.STRING);
        }
    }

    private YNode readMap(Loc loc) throws IOException {
        YNode.YMap map = new YNode.YMap(loc);
        JsonToken k;
        while ((k = parser.nextToken()) == JsonToken.FIELD_NAME) {
            Loc keyLoc = here();
            String key = text(keyLoc, parser.currentName());
            if (parser instanceof YAMLParser y && y.isCurrentAlias()) {
                problems.add(new Problem(keyLoc, "YAML alias '*" + key + "' is not supported: scenario files "
                        + "write every value out (no anchors or aliases)"));
            }
            YNode value = readValue(parser.nextToken());
            if (stopped) {
                return map;
            }
            if (map.entries().containsKey(key)) {
                YNode.Entry first = map.entry(key);
                problems.add(new Problem(keyLoc, "duplicate key '" + key + "' (first at line "
                        + first.keyLoc().line() + ")"));
            } else {
                map.entries().put(key, new YNode.Entry(key, keyLoc, value));
            }
        }
        return map;
    }

    private YNode readList(Loc loc) throws IOException {
        YNode.YList list = new YNode.YList(loc);
        JsonToken i;
        while ((i = parser.nextToken()) != JsonToken.END_ARRAY) {
            YNode item = readValue(i);
            if (stopped) {
                return list;
            }
            list.items().add(item);
        }
        return list;
    }
}
