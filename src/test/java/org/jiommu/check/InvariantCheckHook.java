package org.jiommu.check;

import java.util.List;
import net.jqwik.api.lifecycle.AroundTryHook;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.lifecycle.TryExecutionResult;
import net.jqwik.api.lifecycle.TryExecutor;
import net.jqwik.api.lifecycle.TryLifecycleContext;

/**
 * The jqwik side of {@link InvariantCheckExtension}: jqwik properties do not run Jupiter
 * extensions, so this hook (registered globally by the service file
 * {@code META-INF/services/net.jqwik.api.lifecycle.LifecycleHook}) falsifies every try after
 * which a watched core reported an invariant violation; jqwik then shrinks as for any failure.
 */
public final class InvariantCheckHook implements AroundTryHook {
    static {
        InvariantWatch.install();
    }

    @Override
    public PropagationMode propagateTo() {
        return PropagationMode.ALL_DESCENDANTS;
    }

    @Override
    public TryExecutionResult aroundTry(TryLifecycleContext context, TryExecutor aTry, List<Object> parameters) {
        TryExecutionResult result = aTry.execute(parameters);
        List<CoreWatch.Report> reports = InvariantWatch.drain();
        if (reports.isEmpty() || result.isFalsified()) {
            return result;
        }
        return TryExecutionResult.falsified(new AssertionError(
                InvariantCheckExtension.message(context.label() + " " + parameters, reports)));
    }
}
