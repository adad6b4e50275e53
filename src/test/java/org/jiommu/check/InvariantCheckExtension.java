package org.jiommu.check;

import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails every JUnit Jupiter test after which a watched core reported an invariant violation.
 * Registered for all tests by the service file
 * {@code META-INF/services/org.junit.jupiter.api.extension.Extension} with
 * {@code junit.jupiter.extensions.autodetection.enabled=true} in {@code junit-platform.properties}:
 * no test needs to name it. Loading it installs {@link InvariantWatch}, which puts a
 * {@link CoreWatch} on every core created afterwards; each public call on such a core is checked
 * when it returns, and this extension turns the reports into a test failure.
 */
public final class InvariantCheckExtension implements AfterEachCallback, AfterAllCallback {
    static {
        InvariantWatch.install();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        failOnReports(context.getDisplayName());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        failOnReports(context.getDisplayName() + " (class-level calls)");
    }

    static void failOnReports(String where) {
        List<CoreWatch.Report> reports = InvariantWatch.drain();
        if (!reports.isEmpty()) {
            throw new AssertionError(message(where, reports));
        }
    }

    static String message(String where, List<CoreWatch.Report> reports) {
        StringBuilder sb = new StringBuilder("core invariants violated in " + where + ":");
        for (CoreWatch.Report r : reports) {
            sb.append("\n  ").append(r);
        }
        return sb.toString();
    }
}
