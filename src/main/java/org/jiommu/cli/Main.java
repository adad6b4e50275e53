package org.jiommu.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code jiommu} command. Exit codes: 0 ok, 1 a check failed, 2 bad usage or input.
 * Subcommands are listed here; each lives in its own class in this package.
 */
@Command(name = "jiommu",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = {
            "A Java model of the Linux IOMMU subsystem and the IOMMU hardware under it.",
            "Exit codes: 0 ok, 1 a check failed, 2 bad usage or input."
        },
        subcommands = {CommandLine.HelpCommand.class, RunCommand.class, OpsCommand.class, DemoCommand.class,
            PgtableCommand.class, StressCommand.class, FailNthCommand.class})
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_CHECK_FAILED = 1;
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Builds the command line with jiommu's exit-code conventions. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExitCodeExceptionMapper(t -> EXIT_USAGE);
        cl.setParameterExceptionHandler((ex, args) -> {
            ex.getCommandLine().getErr().println("jiommu: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, ex.getCommandLine().getErr());
            ex.getCommandLine().getErr().println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName()
                    + " --help' for more information.");
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parseResult) -> {
            c.getErr().println("jiommu: " + ex.getMessage());
            return EXIT_USAGE;
        });
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
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
