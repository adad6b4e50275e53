package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Seed points of the aux API on the SMMUv3 driver that the other SMMUv3 tests do not name. */
class Smmuv3SeedPointsTest {
    private static Errno errno(Runnable r) {
        IommuException e = catchThrowableOfType(r::run, IommuException.class);
        assertThat(e).as("an IommuException").isNotNull();
        return e.errno();
    }

    @Test
    @DisplayName("S01 S02 features are per device: a PASID-capable master has AUX (SSIDs), one without PASIDs has"
            + " not (enable -EINVAL); enabling on one leaves the other off; enable twice -EBUSY, disable when off"
            + " -EINVAL")
    void featuresPerDevice() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        PciDevice acc2 = b.endpoint("acc2", true, 20, false);
        PciDevice nic = b.endpoint("nic", true, 0, false);
        b.add(acc);
        b.add(acc2);
        b.add(nic);
        assertThat(b.core.devHasFeature(acc, DevFeature.AUX)).isTrue();
        assertThat(b.core.devHasFeature(nic, DevFeature.AUX)).isFalse();
        assertThat(errno(() -> b.core.devEnableFeature(nic, DevFeature.AUX))).isEqualTo(Errno.EINVAL);
        b.core.devEnableFeature(acc, DevFeature.AUX);
        assertThat(b.core.devFeatureEnabled(acc, DevFeature.AUX)).isTrue();
        assertThat(b.core.devFeatureEnabled(acc2, DevFeature.AUX)).isFalse();
        assertThat(errno(() -> b.core.devEnableFeature(acc, DevFeature.AUX))).isEqualTo(Errno.EBUSY);
        b.core.devDisableFeature(acc, DevFeature.AUX);
        assertThat(b.core.devFeatureEnabled(acc, DevFeature.AUX)).isFalse();
        assertThat(errno(() -> b.core.devDisableFeature(acc, DevFeature.AUX))).isEqualTo(Errno.EINVAL);
    }

    @Test
    @DisplayName("S03 S07 aux attach without AUX enabled is -EINVAL (the 2019 SMMUv3 series); aux_get_pasid is"
            + " -EINVAL before the attach and after the detach, the domain's SSID while attached")
    void auxNeedsFeatureAndPasid() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        IommuDomain aux = b.core.pagingDomainAlloc(acc);
        b.core.map(aux, 0x40000, 0x100_0000, 0x1000, Prot.RW);
        assertThat(errno(() -> b.core.auxAttachDevice(aux, acc))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> b.core.auxGetPasid(aux, acc))).isEqualTo(Errno.EINVAL);
        b.core.devEnableFeature(acc, DevFeature.AUX);
        b.core.auxAttachDevice(aux, acc);
        int ssid = b.core.auxGetPasid(aux, acc);
        assertThat(ssid).isPositive();
        assertThat(b.drv.pasidDomains(acc)).containsEntry(ssid, aux);
        assertThat(b.read(acc, ssid, 0x40000)).isEqualTo(0x100_0000L);
        b.core.auxDetachDevice(aux, acc);
        assertThat(errno(() -> b.core.auxGetPasid(aux, acc))).isEqualTo(Errno.EINVAL);
        assertThat(b.read(acc, ssid, 0x40000)).isNegative();
        b.core.domainFree(aux);
    }

    @Test
    @DisplayName("S04 a domain attached as aux to one master is refused as another master's RID domain with -EINVAL,"
            + " and a RID domain is refused as an aux domain with -EINVAL")
    void auxAndRidExclusive() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        PciDevice other = b.endpoint("other", true, 20, false);
        b.add(acc);
        b.add(other);
        b.core.devEnableFeature(acc, DevFeature.AUX);
        IommuDomain aux = b.core.pagingDomainAlloc(acc);
        b.core.auxAttachDevice(aux, acc);
        assertThat(errno(() -> b.core.attachDevice(aux, other))).isEqualTo(Errno.EINVAL);
        assertThat(b.drv.ridDomain(other)).isNotSameAs(aux);
        IommuDomain rid = b.core.pagingDomainAlloc(other);
        b.core.attachDevice(rid, other);
        assertThat(errno(() -> b.core.auxAttachDevice(rid, acc))).isEqualTo(Errno.EINVAL);
        assertThat(b.drv.pasidDomains(acc)).doesNotContainValue(rid);
    }

    @Test
    @DisplayName("S21 the identity and blocked domains are one per driver, shared by every master, and stay after"
            + " every master that used them is gone")
    void staticDomainsShared() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice x = b.endpoint("x", true, 0, false);
        PciDevice y = b.endpoint("y", true, 0, false);
        b.add(x);
        b.add(y);
        for (PciDevice d : new PciDevice[] {x, y}) {
            b.core.groupClaimDmaOwner(b.core.groupGet(d), "vfio");
            b.core.attachGroup(b.drv.identityDomain(), b.core.groupGet(d));
        }
        assertThat(b.drv.ridDomain(x)).isSameAs(b.drv.ridDomain(y)).isSameAs(b.drv.identityDomain());
        b.core.deviceDel(x);
        b.core.deviceDel(y);
        assertThat(b.drv.identityDomain().isFreed()).isFalse();
        assertThat(b.drv.blockedDomain().isFreed()).isFalse();
    }
}
