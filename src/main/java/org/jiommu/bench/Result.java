package org.jiommu.bench;

import java.util.Arrays;
import java.util.List;

/**
 * A case's measured iterations (every fork's, in order) and their median and spread.
 *
 * @param name the case
 * @param unit what each figure is
 * @param iterations one figure per measured iteration
 * @param operations calls made in the measured iterations, all threads
 */
public record Result(String name, BenchCase.Unit unit, List<Double> iterations, long operations) {
    public Result {
        iterations = List.copyOf(iterations);
        if (iterations.isEmpty()) {
            throw new IllegalArgumentException("no iterations for " + name);
        }
    }

    public double median() {
        double[] v = sorted();
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    public double min() {
        return sorted()[0];
    }

    public double max() {
        double[] v = sorted();
        return v[v.length - 1];
    }

    /** Half the min-max range relative to the median, in percent: the "±" the table shows. */
    public double spreadPercent() {
        double m = median();
        return m == 0 ? 0 : (max() - min()) / 2 / m * 100;
    }

    /** The figure in nanoseconds per call (for the ratio with the kernel's ns per call). */
    public double nanosPerOp() {
        return unit == BenchCase.Unit.NS_PER_OP ? median() : 1e3 / median();
    }

    private double[] sorted() {
        double[] v = iterations.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v;
    }
}
