package org.jiommu.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.function.Function;
import org.jiommu.scenario.Problem;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code jiommu} command. Exit codes: 0 ok, 1 a check failed, 2 bad usage or input, 3 an
 * internal error (a bug in jiommu, or the JVM out of memory). Subcommands are listed here; each
 * lives in its own class in this package. Every refusal of the user's input is one line and
 * exit 2; anything else that escapes a command is caught here and reported as an internal
 * error in one line with a hint, its stack trace only with {@code --debug}.
 */
@Command(name = "jiommu",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = {
            "A Java model of the Linux IOMMU subsystem and the IOMMU hardware under it.",
            "Exit codes: 0 ok, 1 a check failed, 2 bad usage or input, 3 internal error.",
            "--debug (anywhere on the command line) prints an internal error's stack trace.",
        },
        subcommands = {CommandLine.HelpCommand.class, RunCommand.class, OpsCommand.class, DemoCommand.class,
            PgtableCommand.class,
            BenchCommand.class, StressCommand.class, FailNthCommand.class, ServeCommand.class})
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_CHECK_FAILED = 1;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_INTERNAL = 3;
    /** The option that shows an internal error's stack trace; taken out before picocli parses. */
    static final String DEBUG = "--debug";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Builds the command line with jiommu's exit-code conventions (no stack traces). */
    public static CommandLine commandLine() {
        return commandLine(false);
    }

    /** The command line; {@code debug} adds the stack trace to an internal error's message. */
    static CommandLine commandLine(boolean debug) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExitCodeExceptionMapper(t -> EXIT_USAGE);
        cl.setParameterExceptionHandler((ex, args) -> {
            ex.getCommandLine().getErr().println("jiommu: " + Problem.printable(String.valueOf(ex.getMessage())));
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, ex.getCommandLine().getErr());
            ex.getCommandLine().getErr().println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName()
                    + " --help' for more information.");
            return EXIT_USAGE;
        });
        // A command reports every refusal of its input itself (exit 2); an exception reaching
        // here is a bug in jiommu.
        cl.setExecutionExceptionHandler((ex, c, parseResult) -> internalError(c.getErr(), ex, debug));
        return cl;
    }

    /**
     * Runs {@code args} ({@code --debug} anywhere is taken out first); returns the exit code.
     * Errors picocli lets through (out of memory, stack overflow) end here too.
     */
    static int execute(String[] args, PrintWriter out, PrintWriter err) {
        return execute(args, out, err, Main::commandLine);
    }

    /** {@link #execute(String[], PrintWriter, PrintWriter)} on the command line {@code factory} builds. */
    static int execute(String[] args, PrintWriter out, PrintWriter err, Function<Boolean, CommandLine> factory) {
        boolean debug = Arrays.asList(args).contains(DEBUG);
        String[] rest = Arrays.stream(args).filter(a -> !DEBUG.equals(a)).toArray(String[]::new);
        CommandLine cl = factory.apply(debug);
        cl.setOut(out);
        cl.setErr(err);
        try {
            return cl.execute(rest);
        } catch (Throwable t) { // the last resort: no raw stack trace reaches the user
            return internalError(err, t, debug);
        }
    }

    /** One line naming the error and asking for a report; the stack trace only with --debug. */
    static int internalError(PrintWriter err, Throwable t, boolean debug) {
        String what = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
        if (t instanceof OutOfMemoryError) {
            err.println("jiommu: internal error: out of memory (" + Problem.printable(String.valueOf(t.getMessage()))
                    + "); the JVM's heap is too small for this input (JIOMMU_JAVA_OPTS=-Xmx...), or jiommu "
                    + "costs more than it should: please report it with the input");
        } else {
            String firstLine = what.lines().findFirst().orElse("");
            err.println("jiommu: internal error: " + Problem.printable(firstLine) + " (a bug in jiommu: please report it"
                    + " with the command and its input" + (debug ? ")" : "; --debug shows the stack trace)"));
        }
        if (debug) {
            t.printStackTrace(err);
        }
        err.flush();
        return EXIT_INTERNAL;
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int code = execute(args, out, err);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Version from the jar manifest, or "dev" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"jiommu " + (v == null ? "dev" : v)};
        }
    }
}
