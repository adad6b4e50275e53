package org.jiommu.scenario;

import java.util.Map;

/** A step's checked arguments, resolving bound names against the machine at run time. */
final class StepArgs {
    private final Step step;
    private final Machine machine;

    StepArgs(Step step, Machine machine) {
        this.step = step;
        this.machine = machine;
    }

    Step step() {
        return step;
    }

    boolean has(String arg) {
        return step.args().containsKey(arg);
    }

    /** A name-valued argument (device, group, iommu, token, word...). */
    String word(String arg) {
        return (String) step.args().get(arg);
    }

    long number(String arg) {
        Step.NumArg n = (Step.NumArg) step.args().get(arg);
        if (n.ref() == null) {
            return n.literal();
        }
        Value v = machine.binding(n.ref());
        if (v instanceof Value.Num num) {
            return num.value();
        }
        throw new StepError("'" + n.ref() + "' holds " + v.show() + ", not a number");
    }

    int prot(String arg) {
        return (Integer) step.args().get(arg);
    }

    byte[] hex(String arg) {
        return ((byte[]) step.args().get(arg)).clone();
    }

    DeviceSpec device(String arg) {
        return (DeviceSpec) step.args().get(arg);
    }

    /** The bound value a DOMAIN or HANDLE argument names. */
    Value bound(String arg) {
        return machine.binding(word(arg));
    }

    Map<String, Object> raw() {
        return step.args();
    }
}
