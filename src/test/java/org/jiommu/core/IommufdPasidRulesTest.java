package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import org.jiommu.base.Errno;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockIommuDriver;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The PASID rules of the iommufd selftest fixture {@code iommufd_device_pasid} (REFERENCES.md 1a,
 * rules 1-9; rule 10 needs I/O page faults and is in {@code IopfTest}), on the mock with its
 * PASID-compat check on. "PASID-compatible" = a paging domain allocated with
 * {@code IOMMU_HWPT_ALLOC_PASID}; iommufd's RID attach is the group-handle API. The PASIDs are the
 * fixture's: 100, 200, 1024.
 */
class IommufdPasidRulesTest {
    private final Fixture f = new Fixture(MockConfig.builder("M").pasidCompatCheck(true).build());
    private final PciDevice a = add("a");
    private final IommuGroup g = f.group(a);
    private final IommuDomain compat = f.core.pagingDomainAllocFlags(a, AllocFlags.PASID);
    private final IommuDomain compat2 = f.core.pagingDomainAllocFlags(a, AllocFlags.PASID);
    private final IommuDomain plain = f.core.pagingDomainAlloc(a);

    private PciDevice add(String name) {
        PciDevice d = f.pci(name);
        f.core.deviceAdd(d);
        return d;
    }

    @Test
    @DisplayName("iommufd PASID rule 1 at the core: iommu_detach_device_pasid of a PASID never attached is no error, and still reaches the driver")
    void rule1() {
        f.m.clearEvents();
        f.core.detachDevicePasid(compat, a, 100);
        // iommufd itself returns before the core; iommu_detach_device_pasid checks nothing
        assertThat(f.m.calls("set_dev_pasid")).containsExactly("set_dev_pasid(" + f.m.blockedDomain() + ", a, 100, old="
                + compat + ") = 0");
        assertThat(g.pasidArray).isEmpty();
    }

    @Test
    @DisplayName("iommufd PASID rule 2: RID on a non-PASID-compatible domain, then any PASID attach: -EINVAL")
    void rule2() {
        f.core.attachGroupHandle(plain, g, new AttachHandle());
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(compat, a, 100, new AttachHandle()));
        assertThat(g.pasidEntries()).containsOnlyKeys(0);
        assertThat(f.m.programmedPasid(a, 100)).isNull();
    }

    @Test
    @DisplayName("iommufd PASID rule 3: PASID attached over a compatible RID; RID replace to an incompatible domain: -EINVAL")
    void rule3() {
        f.core.attachGroupHandle(compat, g, new AttachHandle());
        f.core.attachDevicePasid(compat2, a, 100, new AttachHandle());
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EINVAL, () -> f.core.replaceGroupHandle(g, plain, new AttachHandle()));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.m.programmed(a)).isSameAs(compat);
        // without PASIDs the same replace is fine: compatibility is two-way
        f.core.detachDevicePasid(compat2, a, 100);
        f.core.replaceGroupHandle(g, plain, new AttachHandle());
        assertThat(f.m.programmed(a)).isSameAs(plain);
    }

    @Test
    @DisplayName("iommufd PASID rule 4 at the core: iommu_attach_device_pasid on a group without PASID-capable members programs nothing (iommufd refuses before the core)")
    void rule4() {
        PlatformDevice p = f.plat("p");
        f.core.deviceAdd(p);
        assertThat(f.core.devIommu(p).maxPasids()).isZero();
        IommuDomain pc = f.core.pagingDomainAllocFlags(p, AllocFlags.PASID);
        f.core.attachGroupHandle(pc, f.group(p), new AttachHandle());
        assertThat(f.m.programmed(p)).isSameAs(pc);
        IommuDomain pc2 = f.core.pagingDomainAllocFlags(p, AllocFlags.PASID);
        f.m.clearEvents();
        for (int pasid : new int[] {100, 200, 1024}) {
            f.core.attachDevicePasid(pc2, p, pasid, new AttachHandle());
        }
        assertThat(f.m.calls("set_dev_pasid")).isEmpty();
        assertThat(f.m.programmedPasid(p, 100)).isNull();
        assertThat(f.group(p).pasidEntries()).containsOnlyKeys(0, 100, 200, 1024);
    }

    @Test
    @DisplayName("iommufd PASID rule 5: attaching a non-PASID-compatible domain to a PASID: -EINVAL, the PASID stays empty")
    void rule5() {
        fails(Errno.EINVAL, () -> f.core.attachDevicePasid(plain, a, 100, new AttachHandle()));
        assertThat(g.pasidArray).isEmpty();
        assertThat(f.m.programmedPasid(a, 100)).isNull();
    }

    @Test
    @DisplayName("iommufd PASID rule 6: attach on an attached PASID: -EBUSY (attach does not overwrite, use replace)")
    void rule6() {
        AttachHandle h = new AttachHandle();
        f.core.attachDevicePasid(compat, a, 100, h);
        fails(Errno.EBUSY, () -> f.core.attachDevicePasid(compat2, a, 100, new AttachHandle()));
        fails(Errno.EBUSY, () -> f.core.attachDevicePasid(compat, a, 100, new AttachHandle()));
        assertThat(f.core.attachHandleGet(g, 100, null)).isSameAs(h);
        assertThat(f.m.programmedPasid(a, 100)).isSameAs(compat);
    }

    @Test
    @DisplayName("iommufd PASID rule 7: replace on a PASID never attached: -EINVAL")
    void rule7() {
        fails(Errno.EINVAL, () -> f.core.replaceDevicePasid(compat, a, 200, new AttachHandle()));
        assertThat(g.pasidArray).isEmpty();
    }

    @Test
    @DisplayName("iommufd PASID rule 8: replace with an unusable domain: -EINVAL and the old one is still attached")
    void rule8() {
        AttachHandle h = new AttachHandle();
        f.core.attachDevicePasid(compat, a, 200, h);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EINVAL, () -> f.core.replaceDevicePasid(plain, a, 200, new AttachHandle()));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.core.attachHandleGet(g, 200, null)).isSameAs(h);
        assertThat(f.m.programmedPasid(a, 200)).isSameAs(compat);
    }

    @Test
    @DisplayName("iommufd PASID rule 9: replace works; the injected failure at PASID 1024 is -ENOMEM and rolls back")
    void rule9() {
        f.core.attachDevicePasid(compat, a, 100, new AttachHandle());
        f.core.replaceDevicePasid(compat2, a, 100, new AttachHandle());
        assertThat(f.m.programmedPasid(a, 100)).isSameAs(compat2);

        AttachHandle h = new AttachHandle();
        f.core.attachDevicePasid(compat, a, MockIommuDriver.TEST_PASID_RESERVED, h);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.ENOMEM, () -> f.core.replaceDevicePasid(compat2, a, MockIommuDriver.TEST_PASID_RESERVED,
                new AttachHandle()));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.core.attachHandleGet(g, 1024, null)).isSameAs(h);
        assertThat(f.m.programmedPasid(a, 1024)).isSameAs(compat);
        // the fault fires once: the next replace goes through
        f.core.replaceDevicePasid(compat2, a, 1024, new AttachHandle());
        assertThat(f.m.programmedPasid(a, 1024)).isSameAs(compat2);
    }
}
