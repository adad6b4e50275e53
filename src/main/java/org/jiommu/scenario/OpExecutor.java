package org.jiommu.scenario;

/** Runs one op against the machine; a core error is thrown as IommuException. */
@FunctionalInterface
interface OpExecutor {
    Outcome execute(Machine machine, StepArgs args);
}
