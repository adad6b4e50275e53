package org.jiommu.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import org.jiommu.scenario.InvalidScenarioException;
import org.jiommu.scenario.Scenario;
import org.jiommu.scenario.ScenarioReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code jiommu demo}: runs the scenario embedded in the jar, which tells the seed threads' story
 * end to end on the mock driver.
 */
@Command(name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Run the built-in demo: the IOMMU core's rules, step by step, on the mock",
            "IOMMU and VT-d. A NIC on the DMA API, a VFIO-style claim and passthrough with",
            "DMA into guest memory, a device with firmware direct mappings (RMR) that can",
            "never be blocked and is parked on identity at removal, PASIDs for mediated",
            "devices (aux domains) and SVA, and a NIC behind an Intel VT-d unit with its",
            "tables and counters.",
            "Prints a narrative, each step and its result, and a summary.",
            "--print shows the scenario file itself (a starting point for your own).",
        })
public final class DemoCommand implements Callable<Integer> {
    /** The demo scenario, a resource in the jar. */
    public static final String RESOURCE = "/org/jiommu/scenario/demo.yaml";

    @Option(names = "--json", description = "one JSON object per step instead of the narrative")
    boolean json;

    @Option(names = "--print", description = "print the demo scenario's YAML and exit")
    boolean print;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        String text = demoText();
        if (print) {
            spec.commandLine().getOut().print(text);
            spec.commandLine().getOut().flush();
            return Main.EXIT_OK;
        }
        Scenario s;
        try {
            s = ScenarioReader.read("demo.yaml", text);
        } catch (InvalidScenarioException e) {
            RunCommand.printProblems(spec.commandLine().getErr(), e);
            return Main.EXIT_USAGE;
        }
        return RunCommand.runAll(List.of(s), json, false, spec.commandLine().getOut());
    }

    static String demoText() throws IOException {
        try (InputStream in = DemoCommand.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("demo scenario " + RESOURCE + " missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
