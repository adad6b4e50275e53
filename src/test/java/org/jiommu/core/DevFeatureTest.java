package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Seed points S01 and S02: per-device features, and what the hardware behind a device can do. */
class DevFeatureTest {
    @Test
    @DisplayName("S01 features are per device: has/enabled/enable/disable on one device leave its neighbour alone")
    void perDevice() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        PciDevice b = f.pci("b");
        f.core.deviceAdd(a);
        f.core.deviceAdd(b);
        assertThat(f.core.devHasFeature(a, DevFeature.AUX)).isTrue();
        assertThat(f.core.devFeatureEnabled(a, DevFeature.AUX)).isFalse();
        f.core.devEnableFeature(a, DevFeature.AUX);
        assertThat(f.core.devFeatureEnabled(a, DevFeature.AUX)).isTrue();
        assertThat(f.core.devFeatureEnabled(b, DevFeature.AUX)).isFalse();
        assertThat(f.core.devFeatureEnabled(a, DevFeature.SVA)).isFalse();
        f.core.devEnableFeature(b, DevFeature.SVA);
        assertThat(f.core.devFeatureEnabled(b, DevFeature.SVA)).isTrue();
        assertThat(f.core.devFeatureEnabled(a, DevFeature.SVA)).isFalse();
        f.core.devDisableFeature(a, DevFeature.AUX);
        assertThat(f.core.devFeatureEnabled(a, DevFeature.AUX)).isFalse();
        // disabling AUX when it is not enabled is 0, as v5.x intel_iommu_dev_disable_feat; SVA is -EINVAL
        f.core.devDisableFeature(a, DevFeature.AUX);
        fails(Errno.EINVAL, () -> f.core.devDisableFeature(a, DevFeature.SVA));
        assertThat(f.m.calls("dev_enable_feat", "dev_disable_feat")).containsExactly(
                "dev_enable_feat(a, AUX) = 0", "dev_enable_feat(b, SVA) = 0", "dev_disable_feat(a, AUX) = 0",
                "dev_disable_feat(a, AUX) = 0", "dev_disable_feat(a, SVA) = " + Errno.describe(Errno.EINVAL.neg()));
    }

    @Test
    @DisplayName("S01 enabling AUX where the hardware cannot: -EINVAL from the driver; without an IOMMU: -ENODEV")
    void enableRefused() {
        Fixture f = new Fixture();
        PlatformDevice p = f.add("p"); // no PASIDs
        assertThat(f.core.devHasFeature(p, DevFeature.AUX)).isFalse();
        fails(Errno.EINVAL, () -> f.core.devEnableFeature(p, DevFeature.AUX));
        assertThat(f.core.devFeatureEnabled(p, DevFeature.AUX)).isFalse();
        PciDevice lone = f.pci("lone"); // never probed
        assertThat(f.core.devHasFeature(lone, DevFeature.AUX)).isFalse();
        assertThat(f.core.devFeatureEnabled(lone, DevFeature.AUX)).isFalse();
        fails(Errno.ENODEV, () -> f.core.devEnableFeature(lone, DevFeature.AUX));
        fails(Errno.ENODEV, () -> f.core.devDisableFeature(lone, DevFeature.AUX));
        fails(Errno.EINVAL, () -> f.core.devEnableFeature(p, null));
    }

    @Test
    @DisplayName("S02 AUX needs per-PASID translation: a PASID device on a PASID-capable IOMMU, not on one without PASIDs")
    void auxNeedsPasidHardware() {
        Fixture scalable = new Fixture();
        PciDevice a = scalable.pci("a");
        scalable.core.deviceAdd(a);
        assertThat(scalable.core.devHasFeature(a, DevFeature.AUX)).isTrue();
        // the same card behind an IOMMU that cannot do PASIDs (VT-d legacy mode, SMMUv3 without SSIDs)
        Fixture legacy = new Fixture(MockConfig.builder("L").maxPasids(0).build());
        PciDevice c = legacy.pci("c");
        legacy.core.deviceAdd(c);
        assertThat(legacy.core.devIommu(c).maxPasids()).isZero();
        assertThat(legacy.core.devHasFeature(c, DevFeature.AUX)).isFalse();
        assertThat(legacy.core.devHasFeature(c, DevFeature.SVA)).isFalse();
        fails(Errno.EINVAL, () -> legacy.core.devEnableFeature(c, DevFeature.AUX));
    }

    @Test
    @DisplayName("S02 a plain SMMUv2: a PASID-capable PCIe card gets false, only a declared context-switching GPU gets AUX")
    void smmuv2ContextSwitch() {
        Fixture f = new Fixture(MockConfig.builder("S").maxPasids(0).auxModel(MockConfig.AuxModel.CONTEXT_SWITCH)
                .build());
        PciDevice card = f.pci("card"); // 20-bit PASID capability
        f.core.deviceAdd(card);
        PlatformDevice gpu = f.plat("gpu");
        f.m.declareContextSwitchCapable(gpu);
        f.core.deviceAdd(gpu);
        assertThat(f.core.devHasFeature(card, DevFeature.AUX)).isFalse();
        fails(Errno.EINVAL, () -> f.core.devEnableFeature(card, DevFeature.AUX));
        assertThat(f.core.devHasFeature(gpu, DevFeature.AUX)).isTrue();
        f.core.devEnableFeature(gpu, DevFeature.AUX);
        assertThat(f.core.devFeatureEnabled(gpu, DevFeature.AUX)).isTrue();
    }

    @Test
    @DisplayName("S01 S02 IOPF needs PRI; IOPF cannot be disabled under SVA (-EBUSY); a driver override decides")
    void iopfAndSva() {
        Fixture f = new Fixture();
        PciDevice pri = f.pci("pri");
        PciDevice noPri = new PciDevice("nopri", 0, 0, 0x50, true, 20, false, false);
        f.core.fwspecInit(noPri, f.m.iommu());
        f.core.deviceAdd(pri);
        f.core.deviceAdd(noPri);
        assertThat(f.core.devHasFeature(pri, DevFeature.IOPF)).isTrue();
        assertThat(f.core.devHasFeature(noPri, DevFeature.IOPF)).isFalse();
        f.core.devEnableFeature(pri, DevFeature.IOPF);
        f.core.devEnableFeature(pri, DevFeature.SVA);
        fails(Errno.EBUSY, () -> f.core.devDisableFeature(pri, DevFeature.IOPF));
        f.core.devDisableFeature(pri, DevFeature.SVA);
        f.core.devDisableFeature(pri, DevFeature.IOPF);
        // an SMMU stall master: the driver knows better than the PCI capability
        f.m.setFeatureSupport(noPri, DevFeature.IOPF, true);
        assertThat(f.core.devHasFeature(noPri, DevFeature.IOPF)).isTrue();
        f.m.setFeatureSupport(noPri, DevFeature.IOPF, null);
        assertThat(f.core.devHasFeature(noPri, DevFeature.IOPF)).isFalse();
    }

    @Test
    @DisplayName("S01 enabled features are the driver's per-device state: gone after release, re-probe starts clean")
    void releaseClears() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        f.core.devEnableFeature(a, DevFeature.AUX);
        f.core.deviceDel(a);
        assertThat(f.core.devFeatureEnabled(a, DevFeature.AUX)).isFalse();
        assertThat(f.core.devHasFeature(a, DevFeature.AUX)).isFalse();
        f.core.deviceAdd(a);
        assertThat(f.core.devFeatureEnabled(a, DevFeature.AUX)).isFalse();
        assertThat(List.of(f.core.devHasFeature(a, DevFeature.AUX))).containsExactly(true);
    }
}
