package org.jiommu.core;

import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuOps;

/**
 * Per-device features ({@code iommu_dev_{has,enable,disable}_feature}, v5.2-v6.15; S01, S02):
 * the driver answers, the core refuses to disable what it still uses. The public calls are
 * {@link IommuCore#devHasFeature} and friends.
 */
final class Features {
    private final Tracer tracer;
    private final CoreRegistry registry;

    Features(Tracer tracer, CoreRegistry registry) {
        this.tracer = tracer;
        this.registry = registry;
    }

    private static void requireFeature(DevFeature f, String fn) {
        if (f == null) {
            throw Args.err(Errno.EINVAL, fn + ": feature is null");
        }
    }

    /** {@code iommu_dev_has_feature}: the driver's answer; false without an IOMMU or the op. */
    boolean has(Device dev, DevFeature f) {
        Args.requireDevice(dev, "iommu_dev_has_feature");
        requireFeature(f, "iommu_dev_has_feature");
        IommuOps ops = registry.probedOps(dev);
        return ops != null && ops.devHasFeat() != null && ops.devHasFeat().devHasFeat(dev, f);
    }

    /** {@code iommu_dev_feature_enabled} without the argument checks (the aux engine asks too). */
    static boolean enabled(CoreRegistry registry, Device dev, DevFeature f) {
        IommuOps ops = registry.probedOps(dev);
        return ops != null && ops.devFeatEnabled() != null && ops.devFeatEnabled().devFeatEnabled(dev, f);
    }

    boolean enabled(Device dev, DevFeature f) {
        Args.requireDevice(dev, "iommu_dev_feature_enabled");
        requireFeature(f, "iommu_dev_feature_enabled");
        return enabled(registry, dev, f);
    }

    /** {@code iommu_dev_enable_feature} / {@code iommu_dev_disable_feature}. */
    void set(Device dev, DevFeature f, boolean enable) {
        String fn = enable ? "iommu_dev_enable_feature" : "iommu_dev_disable_feature";
        Args.requireDevice(dev, fn);
        requireFeature(f, fn);
        IommuOps ops = registry.probedOps(dev);
        var op = ops == null ? null : enable ? ops.devEnableFeat() : ops.devDisableFeat();
        if (op == null) {
            throw Args.err(Errno.ENODEV, fn + ": " + dev + " has no IOMMU driver that knows features");
        }
        if (!enable) {
            String user = user(dev, f);
            if (user != null) {
                throw Args.err(Errno.EBUSY, fn + ": " + f + " of " + dev + " is in use: " + user);
            }
        }
        String drvOp = enable ? "dev_enable_feat" : "dev_disable_feat";
        int ret = op.devSetFeat(dev, f);
        tracer.trace(TraceEvent.Kind.DRIVER, drvOp, "(" + dev + ", " + f + ") = " + Errno.describe(ret));
        if (ret != 0) {
            throw Args.driverErr(ret, "driver " + ops + " " + drvOp + "(" + dev + ", " + f + ")");
        }
    }

    /**
     * What of the core still uses feature {@code f} of {@code dev}, or null. AUX is never refused
     * here: the v5.x core forwarded the call, and intel_iommu_dev_disable_feat(AUX) cleared
     * {@code auxd_enabled} and returned 0 whatever was attached (the aux domains stay attached).
     */
    private String user(Device dev, DevFeature f) {
        if (f == DevFeature.SVA) {
            IommuGroup g = registry.groupOf(dev);
            if (g != null) {
                for (Map.Entry<Integer, PasidEntry> e : g.pasidArray.entrySet()) {
                    if (e.getValue() instanceof PasidEntry.HandleEntry
                            && ((PasidEntry.HandleEntry) e.getValue()).handle() instanceof SvaHandle) {
                        return "an address space is bound at PASID " + e.getKey();
                    }
                }
            }
        }
        return null;
    }
}
