package org.jiommu.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;

/** Issue 14: `run --help` is printed as written, never wrapped in the middle of a sentence. */
class HelpTextTest {
    @Test
    @DisplayName("run --help fits 80 columns and shows every description and footer line whole")
    void runHelpNotWrapped() {
        Cli r = Cli.run("run", "--help");
        assertThat(r.exit).isEqualTo(0);
        List<String> lines = r.out.lines().toList();
        assertThat(lines).allMatch(l -> l.length() <= 80);
        Command c = RunCommand.class.getAnnotation(Command.class);
        List<String> written = new ArrayList<>(List.of(c.description()));
        written.addAll(List.of(c.footer()));
        for (String w : written) {
            if (!w.isBlank()) {
                assertThat(lines).as("printed whole: " + w).contains(w.stripTrailing());
            }
        }
    }
}
