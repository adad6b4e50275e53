package org.jiommu.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code jiommu} invocations inside one child JVM with a small heap ({@code -Xmx256m}),
 * each in-process with a hard timeout: the resource bound of the hostile-input tests. The
 * bounds are failure guards, generous on purpose (a loaded 2-core machine), never speed
 * assertions: a case over its heap ends in exit 3 (out of memory), a case over its time is
 * reported as timed out, and either fails the test that reads the result.
 */
final class BoundedRun {
    static final String HEAP = "-Xmx256m";
    /** Per invocation: far above what any case needs, so only a runaway trips it. */
    static final long TIMEOUT_SECONDS = 60;

    /** The outcome of one invocation in the child JVM. */
    record Result(int exit, String out, String err, boolean timedOut) {
        /** Output as a person sees it: a stack trace would show "\tat " frames or an exception name. */
        boolean showsStackTrace() {
            String all = out + err;
            return all.contains("\tat ") || all.contains("Exception in thread") || all.matches("(?s).*\\bat org\\.jiommu\\..*");
        }
    }

    private BoundedRun() {
    }

    /** Runs each argument list in one child JVM; results in the same order. */
    static List<Result> run(List<List<String>> invocations) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                HEAP, "-cp", "target/classes" + java.io.File.pathSeparator + "target/test-classes"
                        + java.io.File.pathSeparator + System.getProperty("java.class.path"),
                BoundedRun.class.getName()));
        ObjectMapper m = new ObjectMapper();
        try {
            Path args = java.nio.file.Files.createTempFile("jiommu-bounded", ".json");
            m.writeValue(args.toFile(), invocations);
            cmd.add(args.toString());
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(TIMEOUT_SECONDS * (invocations.size() + 1), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the bounded child JVM did not end");
            }
            java.nio.file.Files.deleteIfExists(args);
            List<Result> results = new ArrayList<>();
            for (String line : stdout.split("\n")) {
                if (line.startsWith("{")) {
                    Map<?, ?> r = m.readValue(line, Map.class);
                    results.add(new Result((Integer) r.get("exit"), (String) r.get("out"), (String) r.get("err"),
                            (Boolean) r.get("timedOut")));
                }
            }
            if (results.size() != invocations.size()) {
                throw new AssertionError("the child JVM reported " + results.size() + " of " + invocations.size()
                        + " invocations (exit " + p.exitValue() + ")");
            }
            return results;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The child: reads the invocations, runs each with {@link Main#execute}, prints one JSON line each. */
    public static void main(String[] a) throws Exception {
        ObjectMapper m = new ObjectMapper();
        @SuppressWarnings("unchecked")
        List<List<String>> invocations = m.readValue(Path.of(a[0]).toFile(), List.class);
        PrintWriter stdout = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        for (List<String> args : invocations) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int[] exit = {-1};
            Thread t = new Thread(() -> exit[0] = Main.execute(args.toArray(String[]::new),
                    new PrintWriter(out, true), new PrintWriter(err, true)), "bounded-run");
            t.setDaemon(true);
            t.start();
            t.join(TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            boolean timedOut = t.isAlive();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("exit", timedOut ? -1 : exit[0]);
            synchronized (out.getBuffer()) {
                r.put("out", out.toString());
            }
            r.put("err", err.toString());
            r.put("timedOut", timedOut);
            ObjectNode o = m.valueToTree(r);
            stdout.println(o);
            if (timedOut) {
                break; // the runaway keeps a core busy: report it and stop
            }
        }
        stdout.flush();
        System.exit(0);
    }
}
