package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCommandTest {
    @TempDir
    Path dir;

    private Path file(String name, String... lines) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, String.join("\n", lines) + "\n");
        return p;
    }

    private Path wrongExpectation() throws IOException {
        return file("wrong.yaml",
                "name: a wrong expectation",
                "steps:",
                "  - mem_write: {paddr: 0x1000, data: \"cafe\"}",
                "  - mem_read: {paddr: 0x1000, size: 2}",
                "    expect: {value: \"beef\"}",
                "  - mem_read: {paddr: 0x1000, size: 2}",
                "    expect: {value: \"cafe\"}");
    }

    @Test
    @DisplayName("a wrong expectation exits 1, prints the step, the expectation and the actual result, and finishes the file")
    void wrongExpectationExits1() throws IOException {
        Cli r = Cli.run("run", wrongExpectation().toString());
        assertThat(r.exit).isEqualTo(1);
        assertThat(r.out).containsPattern("(?m)^\\s+2  mem_read \\{paddr: 0x1000, size: 2\\}\\s+-> cafe  FAILED$");
        assertThat(r.out).contains("step 2 (line 4): mem_read {paddr: 0x1000, size: 2}");
        assertThat(r.out).contains("expected: {value: \"beef\"}");
        assertThat(r.out).contains("actual:   cafe");
        assertThat(r.out).containsPattern("(?m)^\\s+3  mem_read .*-> cafe  ok$");
        assertThat(r.out).contains("-- 3 steps, 1 failed").contains("FAILED");
    }

    @Test
    @DisplayName("--stop-on-failure stops at the failing step")
    void stopOnFailure() throws IOException {
        Cli r = Cli.run("run", "--stop-on-failure", wrongExpectation().toString());
        assertThat(r.exit).isEqualTo(1);
        assertThat(r.out).doesNotContainPattern("(?m)^\\s+3  mem_read");
        assertThat(r.out).contains("-- 2 steps, 1 failed").contains("stopped at the first failure");
    }

    @Test
    @DisplayName("a passing file exits 0 with one ok line per step and a PASSED summary")
    void passing() throws IOException {
        Path f = file("ok.yaml",
                "name: CPU writes and reads back",
                "steps:",
                "  - mem_write: {paddr: 4KiB, data: \"0102\"}",
                "  - mem_read: {paddr: 0x1000, size: 2}",
                "    as: got",
                "  - mem_read: {paddr: 0x1000, size: 2}",
                "    expect: {value: \"0102\"}",
                "  - mem_read: {paddr: 0x10000000000000, size: 1}",
                "    expect: -EFAULT");
        Cli r = Cli.run("run", f.toString());
        assertThat(r.exit).as(r.out + r.err).isEqualTo(0);
        assertThat(r.out.lines().filter(l -> l.matches("\\s+\\d+  .*  ok"))).hasSize(4);
        assertThat(r.out).contains("(as got)").contains("-- 4 steps, 0 failed").contains("PASSED");
    }

    @Test
    @DisplayName("--json prints one object per step and a summary object; exit codes are unchanged")
    void json() throws IOException {
        Cli r = Cli.run("run", "--json", wrongExpectation().toString());
        assertThat(r.exit).isEqualTo(1);
        ObjectMapper m = new ObjectMapper();
        List<JsonNode> objs = r.out.lines().map(l -> {
            try {
                return m.readTree(l);
            } catch (IOException e) {
                throw new AssertionError(l, e);
            }
        }).toList();
        assertThat(objs).hasSize(4);
        assertThat(objs.get(0).get("step").asInt()).isEqualTo(1);
        assertThat(objs.get(0).get("status").asText()).isEqualTo("ok");
        JsonNode failed = objs.get(1);
        assertThat(failed.get("op").asText()).isEqualTo("mem_read");
        assertThat(failed.get("line").asInt()).isEqualTo(4);
        assertThat(failed.get("expect").asText()).isEqualTo("{value: \"beef\"}");
        assertThat(failed.get("value").asText()).isEqualTo("cafe");
        assertThat(failed.get("status").asText()).isEqualTo("FAILED");
        assertThat(failed.get("args").get("paddr").asText()).isEqualTo("0x1000");
        JsonNode sum = objs.get(3).get("summary");
        assertThat(sum.get("steps").asInt()).isEqualTo(3);
        assertThat(sum.get("failed").asInt()).isEqualTo(1);
        assertThat(sum.get("status").asText()).isEqualTo("FAILED");
    }

    @Test
    @DisplayName("run --help explains expectations and exit codes")
    void help() {
        Cli r = Cli.run("run", "--help");
        assertThat(r.exit).isEqualTo(0);
        assertThat(r.out).contains("Expectations").contains("{paddr: PA}").contains("warn")
                .contains("{violations: N}").contains("Exit codes: 0");
    }

    @Test
    @DisplayName("run without a file is a usage error")
    void noFile() {
        Cli r = Cli.run("run");
        assertThat(r.exit).isEqualTo(2);
        assertThat(r.err).contains("FILE");
    }
}
