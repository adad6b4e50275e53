package org.jiommu.scenario;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.List;

/**
 * Reads a YAML text into a {@link YNode} tree carrying the line and column of every node,
 * from Jackson's streaming parser ({@code currentTokenLocation()} is 1-based for YAML).
 * Problems such as a duplicate key are collected; a syntax error ends the read.
 */
final class YamlReader {
    private static final YAMLFactory FACTORY = new YAMLFactory();

    private final String file;
    private final List<Problem> problems;
    private JsonParser parser;

    private YamlReader(String file, List<Problem> problems) {
        this.file = file;
        this.problems = problems;
    }

    /**
     * Parses {@code text}; returns the root node, or null after adding a problem (syntax error,
     * empty file) to {@code problems}.
     */
    static YNode read(String file, String text, List<Problem> problems) {
        return new YamlReader(file, problems).readRoot(text);
    }

    private YNode readRoot(String text) {
        try (JsonParser p = FACTORY.createParser(text)) {
            parser = p;
            JsonToken t = p.nextToken();
            if (t == null) {
                problems.add(new Problem(new Loc(file, 1, 1), "empty file: a scenario needs 'name' and 'steps'"));
                return null;
            }
            YNode root = readValue(t);
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

    private static String firstLine(String message) {
        if (message == null) {
            return "unreadable YAML";
        }
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).trim();
    }

    private Loc here() {
        JsonLocation l = parser.currentTokenLocation();
        return new Loc(file, Math.max(1, l.getLineNr()), Math.max(1, l.getColumnNr()));
    }

    private YNode readValue(JsonToken t) throws IOException {
        Loc loc = here();
        switch (t) {
            case START_OBJECT: {
                YNode.YMap map = new YNode.YMap(loc);
                JsonToken k;
                while ((k = parser.nextToken()) == JsonToken.FIELD_NAME) {
                    String key = parser.currentName();
                    Loc keyLoc = here();
                    YNode value = readValue(parser.nextToken());
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
            case START_ARRAY: {
                YNode.YList list = new YNode.YList(loc);
                JsonToken i;
                while ((i = parser.nextToken()) != JsonToken.END_ARRAY) {
                    list.items().add(readValue(i));
                }
                return list;
            }
            case VALUE_STRING:
                return new YNode.YScalar(loc, parser.getText(), YNode.YScalar.Type.STRING);
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
                return new YNode.YScalar(loc, String.valueOf(parser.getText()), YNode.YScalar.Type.STRING);
        }
    }
}
