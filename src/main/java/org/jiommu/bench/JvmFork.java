package org.jiommu.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A fresh JVM on this one's Java and class path, running one main class: how {@code jiommu bench}
 * measures each case (and {@code bench dma-map} its whole run) without the JIT profiles, heap
 * layout and options of the JVM that asked.
 */
public final class JvmFork {
    /** What the forked JVM did: its exit status and its standard output and error, interleaved. */
    public record Output(int exit, String text) {
    }

    private JvmFork() {
    }

    /**
     * Runs {@code mainClass} with {@code args} in a new JVM given {@code jvmOptions} (before the
     * class path) and waits for it.
     *
     * @throws IOException if the JVM cannot be started or its output read
     */
    public static Output run(List<String> jvmOptions, String mainClass, List<String> args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Output(p.waitFor(), text);
    }
}
