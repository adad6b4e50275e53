package org.jiommu.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.jiommu.scenario.ArgSpec;
import org.jiommu.scenario.OpCatalog;
import org.jiommu.scenario.OpSpec;
import org.jiommu.scenario.Problem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code jiommu ops [OP]}: the scenario language's ops, their arguments and meaning. */
@Command(name = "ops",
        mixinStandardHelpOptions = true,
        description = {
            "List the ops a scenario step can use.",
            "Each op with its arguments (? = optional), what it returns and what it means.",
            "With OP, show that op's arguments and their types.",
        })
public final class OpsCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "OP", description = "one op to describe")
    String op;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (op != null) {
            OpSpec o = OpCatalog.get(op);
            if (o == null) {
                spec.commandLine().getErr().println("jiommu: unknown op '" + Problem.printable(op)
                        + "' (jiommu ops lists them)");
                return Main.EXIT_USAGE;
            }
            out.println(o.signature() + (o.implemented() ? "" : "    [not implemented yet]"));
            out.println("    " + o.meaning());
            for (ArgSpec a : o.args()) {
                out.printf("    %-8s %s%s%n", a.name(), a.type().written, a.required() ? "" : " (optional)");
            }
            out.flush();
            return Main.EXIT_OK;
        }
        String section = null;
        int notYet = 0;
        for (OpSpec o : OpCatalog.all()) {
            if (!o.section().equals(section)) {
                section = o.section();
                out.println();
                out.println(section + ":");
            }
            out.println("  " + o.signature() + (o.implemented() ? "" : "    [not implemented yet]"));
            out.println("      " + o.meaning());
            if (!o.implemented()) {
                notYet++;
            }
        }
        out.println();
        out.println(OpCatalog.all().size() + " ops; " + notYet + " not implemented yet (a scenario using one is "
                + "refused with exit 2). A step: '- OP: {arg: value, ...}' with optional expect:, as:, note:.");
        out.flush();
        return Main.EXIT_OK;
    }
}
