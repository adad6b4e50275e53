package org.jiommu.driver.mock;

import static org.jiommu.driver.mock.MockIommuDriver.ret;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.Set;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.IommuDomain;

/**
 * The mock driver's device features and aux side (S01, S02, S03, S10): {@code dev_has_feat},
 * {@code dev_enable_feat} / {@code dev_disable_feat}, the table-only aux attach of
 * {@code AuxModel.CONTEXT_SWITCH} and {@code domain_get_attr(PTBASE)}. A part of
 * {@link MockIommuDriver}: its state lives there, guarded by the driver's monitor.
 */
final class MockDevFeatures {
    private final MockIommuDriver drv;

    MockDevFeatures(MockIommuDriver drv) {
        this.drv = drv;
    }

    int maxPasidsOf(Device dev) {
        DevIommuView di = drv.core.devIommu(dev);
        return di == null ? 0 : di.maxPasids();
    }

    /** What the hardware behind {@code dev} can do. Holds the driver's lock. */
    boolean hardwareHas(Device dev, DevFeature f) {
        EnumMap<DevFeature, Boolean> o = drv.featureSupport.get(dev);
        if (o != null && o.containsKey(f)) {
            return o.get(f);
        }
        switch (f) {
            case AUX:
                switch (drv.config.auxModel()) {
                    case PASID: return maxPasidsOf(dev) > 0;
                    case CONTEXT_SWITCH: return drv.contextSwitchCapable.contains(dev);
                    default: return false;
                }
            case SVA:
                return drv.config.svaSupport() && maxPasidsOf(dev) > 0;
            default:
                // recoverable faults need PCI PRI (an SMMU stall master is declared with setFeatureSupport)
                return dev instanceof PciDevice && ((PciDevice) dev).hasPri();
        }
    }

    boolean devHasFeat(Device dev, DevFeature f) {
        synchronized (drv) {
            return drv.probed.contains(dev) && hardwareHas(dev, f);
        }
    }

    boolean devFeatEnabled(Device dev, DevFeature f) {
        synchronized (drv) {
            EnumSet<DevFeature> s = drv.featuresEnabled.get(dev);
            return s != null && s.contains(f);
        }
    }

    int devEnableFeat(Device dev, DevFeature f) {
        int r;
        synchronized (drv) {
            if (!drv.probed.contains(dev)) {
                r = Errno.ENODEV.neg();
            } else if (!hardwareHas(dev, f)) {
                r = Errno.EINVAL.neg(); // the hardware behind this device cannot do it (S01)
            } else {
                drv.featuresEnabled.computeIfAbsent(dev, k -> EnumSet.noneOf(DevFeature.class)).add(f);
                r = 0;
            }
        }
        drv.record("dev_enable_feat", null, dev, null, "dev_enable_feat(" + dev + ", " + f + ") = " + ret(r), r);
        return r;
    }

    int devDisableFeat(Device dev, DevFeature f) {
        int r;
        synchronized (drv) {
            EnumSet<DevFeature> s = drv.featuresEnabled.get(dev);
            if (f == DevFeature.AUX) {
                // v5.x intel_iommu_dev_disable_feat(AUX): clear auxd_enabled, always 0
                if (s != null) {
                    s.remove(f);
                }
                r = 0;
            } else if (s == null || !s.contains(f)) {
                r = Errno.EINVAL.neg();
            } else if (f == DevFeature.IOPF && s.contains(DevFeature.SVA)) {
                r = Errno.EBUSY.neg(); // SVA relies on the fault path (arm_smmu_master_disable_iopf)
            } else {
                s.remove(f);
                r = 0;
            }
        }
        drv.record("dev_disable_feat", null, dev, null, "dev_disable_feat(" + dev + ", " + f + ") = " + ret(r), r);
        return r;
    }

    /** Table-only aux attach: the domain becomes an aux domain of {@code dev}; no hardware is touched. */
    int auxAttach(IommuDomain d, Device dev) {
        int r;
        synchronized (drv) {
            if (!drv.probed.contains(dev) || !(d instanceof MockDomain) || ((MockDomain) d).pgtable == null
                    || ((MockDomain) d).driver() != drv) {
                r = Errno.EINVAL.neg();
            } else {
                drv.auxTables.computeIfAbsent(d, k -> new LinkedHashSet<>()).add(dev);
                r = 0;
            }
        }
        drv.record("aux_attach_dev", d, dev, null, "aux_attach_dev(" + d + ", " + dev + ") = " + ret(r), r);
        return r;
    }

    void auxDetach(IommuDomain d, Device dev) {
        synchronized (drv) {
            Set<Device> s = drv.auxTables.get(d);
            if (s != null) {
                s.remove(dev);
                if (s.isEmpty()) {
                    drv.auxTables.remove(d);
                }
            }
        }
        drv.record("aux_detach_dev", d, dev, null, "aux_detach_dev(" + d + ", " + dev + ")", 0);
    }

    /** {@code domain_get_attr(PTBASE)}: an aux domain's table base (TTBR0); -ENODEV for any other domain (S10). */
    long domainGetAttr(IommuDomain d, DomainAttr attr) {
        long base;
        synchronized (drv) {
            if (attr != DomainAttr.PTBASE || !drv.auxTables.containsKey(d)) {
                drv.record("domain_get_attr", d, null, null, "domain_get_attr(" + d + ", " + attr + ") = -ENODEV",
                        Errno.ENODEV.neg());
                throw new IommuException(Errno.ENODEV, "mock " + drv.config.name() + ": " + d + " is not an aux domain");
            }
            base = ((MockDomain) d).pgtable.root();
        }
        drv.record("domain_get_attr", d, null, null, String.format("domain_get_attr(%s, %s) = %#x", d, attr, base), 0);
        return base;
    }
}
