package org.jiommu.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The kernel harnesses (tools/kernel-bench) must measure what {@code jiommu bench} measures, or
 * the reference columns compare different work: their one definition of the cases, cases.h, is
 * read here and held to {@link PageTableFixtures}.
 */
class KernelBenchCasesTest {
    private static final Path CASES_H = Path.of("tools", "kernel-bench", "cases.h");

    @Test
    @DisplayName("tools/kernel-bench/cases.h: the fixture's constants and the six operations, as PageTableFixtures")
    void casesMatchTheFixture() throws IOException {
        String h = Files.readString(CASES_H);
        Map<String, String> defines = new HashMap<>();
        Matcher d = Pattern.compile("(?m)^#define\\s+(\\w+)\\s+(.*?)\\s*(?:/\\*.*)?$").matcher(h);
        while (d.find()) {
            defines.put(d.group(1), d.group(2));
        }
        assertThat(number(defines, "PAGES")).isEqualTo(PageTableFixtures.PAGES);
        assertThat(number(defines, "CHUNK")).isEqualTo(PageTableFixtures.CHUNK);
        assertThat(defines.get("CHUNKS")).isEqualTo("(PAGES / CHUNK)");
        assertThat(defines.get("BLOCKS")).isEqualTo("(4 * 512)");
        assertThat(4 * 512).isEqualTo(PageTableFixtures.BLOCKS);
        assertThat(number(defines, "PAGE_BASE")).isEqualTo(PageTableFixtures.PAGE_BASE);
        assertThat(number(defines, "BLOCK_BASE")).isEqualTo(PageTableFixtures.BLOCK_BASE);
        assertThat(number(defines, "PA_BASE")).isEqualTo(PageTableFixtures.PA_BASE);
        assertThat(number(defines, "BLOCK_PA")).isEqualTo(PageTableFixtures.BLOCK_PA);

        // the operations table: id, calls a batch, whether the pages must be mapped, in enum order
        Matcher op = Pattern.compile("\\[(\\w+)\\]\\s*=\\s*\\{\\s*\"([^\"]+)\",\\s*\"([^\"]+)\",\\s*(\\w+),\\s*(true|false)\\s*}")
                .matcher(h);
        List<String> rows = new ArrayList<>();
        while (op.find()) {
            int calls = switch (op.group(4)) {
                case "PAGES" -> PageTableFixtures.PAGES;
                case "CHUNKS" -> PageTableFixtures.CHUNKS;
                case "BLOCKS" -> PageTableFixtures.BLOCKS;
                default -> -1;
            };
            rows.add(op.group(1) + " " + op.group(2) + " \"" + op.group(3) + "\" " + calls + " " + op.group(5));
        }
        List<String> want = new ArrayList<>();
        for (PageTableFixtures.Op o : PageTableFixtures.Op.values()) {
            want.add(o.name() + " " + o.id + " \"" + o.what + "\" " + o.ops + " " + o.needsPages);
        }
        assertThat(rows).containsExactlyElementsOf(want);
    }

    private static long number(Map<String, String> defines, String name) {
        String v = defines.get(name);
        assertThat(v).as(name).isNotNull();
        v = v.replaceAll("[UL]+$", "");
        return v.startsWith("0x") ? Long.parseUnsignedLong(v.substring(2), 16) : Long.parseLong(v);
    }
}
