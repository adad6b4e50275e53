package org.jiommu.scenario;

import java.util.List;

/**
 * One op of the scenario language: its name (the kernel function's), arguments, result and a
 * one-line meaning, and the code that runs it against the model. An op without an executor
 * exists in the language but its layer does not exist yet: a file using it is refused at
 * validation with "not implemented yet: OP".
 */
public final class OpSpec {
    private final String name;
    private final String section;
    private final ResultKind result;
    private final String meaning;
    private final List<ArgSpec> args;
    private OpExecutor executor;

    OpSpec(String name, String section, ResultKind result, String meaning, List<ArgSpec> args) {
        this.name = name;
        this.section = section;
        this.result = result;
        this.meaning = meaning;
        this.args = List.copyOf(args);
    }

    /** Wires the op to the model. */
    OpSpec run(OpExecutor e) {
        this.executor = e;
        return this;
    }

    public String name() {
        return name;
    }

    /** The SCENARIOS.md group the op is listed under. */
    public String section() {
        return section;
    }

    public ResultKind result() {
        return result;
    }

    public String meaning() {
        return meaning;
    }

    public List<ArgSpec> args() {
        return args;
    }

    public ArgSpec arg(String n) {
        for (ArgSpec a : args) {
            if (a.name().equals(n)) {
                return a;
            }
        }
        return null;
    }

    public boolean implemented() {
        return executor != null;
    }

    OpExecutor executor() {
        return executor;
    }

    /** {@code iommu_map {domain, iova, paddr, size, prot}} as SCENARIOS.md writes it. */
    public String signature() {
        StringBuilder sb = new StringBuilder(name);
        if (!args.isEmpty()) {
            sb.append(" {");
            for (int i = 0; i < args.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(args.get(i).describe());
            }
            sb.append('}');
        }
        if (result != ResultKind.NONE) {
            sb.append(" -> ").append(result.written);
        }
        return sb.toString();
    }
}
