package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Seed points S03-S12: the 2019 aux-domain API on the PASID machinery. */
class AuxDomainTest {
    /** A PASID-capable PCI function with AUX enabled. */
    private static PciDevice auxDev(Fixture f, String name) {
        PciDevice d = f.pci(name);
        f.core.deviceAdd(d);
        f.core.devEnableFeature(d, DevFeature.AUX);
        return d;
    }

    @Test
    @DisplayName("S03 aux attach needs AUX enabled and an UNMANAGED domain: else the driver's errno (-EINVAL, VT-d -EPERM)")
    void needsAuxAndUnmanaged() {
        for (Errno refusal : new Errno[] {Errno.EINVAL, Errno.EPERM}) {
            Fixture f = new Fixture(MockConfig.builder("M").auxRefusal(refusal).build());
            PciDevice a = f.pci("a");
            f.core.deviceAdd(a);
            IommuDomain d = f.core.pagingDomainAlloc(a);
            CoreSnapshot before = f.core.snapshot();
            fails(refusal, () -> f.core.auxAttachDevice(d, a));
            f.core.devEnableFeature(a, DevFeature.AUX);
            fails(refusal, () -> f.core.auxAttachDevice(f.m.identityDomain(), a));
            IommuDomain dma = f.group(a).defaultDomain();
            fails(refusal, () -> f.core.auxAttachDevice(dma, a));
            assertThat(f.core.snapshot()).isEqualTo(before);
            assertThat(f.core.globalPasids()).isEmpty();
            f.core.auxAttachDevice(d, a);
            assertThat(f.core.auxGetPasid(d, a)).isEqualTo(1);
        }
    }

    @Test
    @DisplayName("S03 the group needs a real RID domain to hang PASID entries from: blocked RID -EINVAL; no aux driver -ENODEV")
    void needsRealRid() {
        Fixture f = new Fixture();
        PciDevice a = auxDev(f, "a");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachGroup(f.m.blockedDomain(), f.group(a));
        fails(Errno.EINVAL, () -> f.core.auxAttachDevice(d, a));
        assertThat(f.core.globalPasids()).isEmpty();
        f.core.detachGroup(f.m.blockedDomain(), f.group(a));
        f.core.auxAttachDevice(d, a);
        // a driver without aux support, and a device without an IOMMU
        Fixture n = new Fixture(MockConfig.builder("N").auxModel(MockConfig.AuxModel.NONE).build());
        PciDevice b = n.pci("b");
        n.core.deviceAdd(b);
        fails(Errno.ENODEV, () -> n.core.auxAttachDevice(n.core.pagingDomainAlloc(b), b));
        PciDevice lone = f.pci("lone");
        fails(Errno.ENODEV, () -> f.core.auxAttachDevice(d, lone));
    }

    @Test
    @DisplayName("S04 an aux domain is refused as a RID domain and a RID domain as aux (-EINVAL); plain domains stay RID-attachable")
    void auxVersusRid() {
        Fixture f = new Fixture();
        PciDevice a = auxDev(f, "a");
        PciDevice b = auxDev(f, "b");
        IommuDomain aux = f.core.pagingDomainAlloc(a);
        IommuDomain rid = f.core.pagingDomainAlloc(a);
        IommuDomain plain = f.core.pagingDomainAlloc(a);
        f.core.auxAttachDevice(aux, a);
        fails(Errno.EINVAL, () -> f.core.attachDevice(aux, b));
        fails(Errno.EINVAL, () -> f.core.attachGroup(aux, f.group(b)));
        fails(Errno.EINVAL, () -> f.core.attachGroupHandle(aux, f.group(b), new AttachHandle()));
        fails(Errno.EINVAL, () -> f.core.groupReplaceDomain(f.group(b), aux));
        assertThat(f.group(b).domain()).isSameAs(f.group(b).defaultDomain());
        f.core.attachDevice(rid, b);
        fails(Errno.EINVAL, () -> f.core.auxAttachDevice(rid, a));
        // the default domain is a RID domain too (and not UNMANAGED): refused either way
        assertThat(f.core.globalPasids()).containsOnlyKeys(f.core.auxGetPasid(aux, a));
        // a plain unmanaged domain is still an ordinary RID domain (VFIO uses them)
        f.core.detachDevice(rid, b);
        f.core.attachDevice(plain, b);
        assertThat(f.m.programmed(b)).isSameAs(plain);
        // once no longer aux, the domain may serve as a RID domain
        f.core.auxDetachDevice(aux, a);
        f.core.detachDevice(plain, b);
        f.core.attachDevice(aux, b);
        assertThat(f.m.programmed(b)).isSameAs(aux);
    }

    @Test
    @DisplayName("S05 the default PASID: allocated on the first aux attach within the PASID width, shared, freed with the last")
    void defaultPasidLifecycle() {
        Fixture f = new Fixture();
        PciDevice a = auxDev(f, "a");
        PciDevice b = auxDev(f, "b");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.allocGlobalPasid(a); // someone else holds 1
        f.core.auxAttachDevice(d, a);
        int p = f.core.auxGetPasid(d, a);
        assertThat(p).isEqualTo(2);
        assertThat(f.core.globalPasids()).containsEntry(p, 1 << 20);
        f.core.auxAttachDevice(d, b);
        assertThat(f.core.auxGetPasid(d, b)).isEqualTo(p);
        assertThat(f.m.programmedPasid(a, p)).isSameAs(d);
        assertThat(f.m.programmedPasid(b, p)).isSameAs(d);
        assertThat(f.core.globalPasids()).containsOnlyKeys(1, p);
        f.core.auxDetachDevice(d, a);
        assertThat(f.core.globalPasids()).containsOnlyKeys(1, p);
        assertThat(f.m.programmedPasid(a, p)).isNull();
        assertThat(f.m.programmedPasid(b, p)).isSameAs(d);
        int w = f.core.warningCount();
        f.core.auxDetachDevice(d, b);
        assertThat(f.core.globalPasids()).containsOnlyKeys(1);
        // detaching again: nothing attached, nothing freed twice
        f.core.auxDetachDevice(d, b);
        assertThat(f.core.warningCount()).isEqualTo(w);
        assertThat(f.group(a).pasidArray).isEmpty();
        assertThat(f.group(b).pasidArray).isEmpty();
    }

    @Test
    @DisplayName("S05 the default PASID stays inside the first device's width; a narrower later device: -EOVERFLOW")
    void withinWidth() {
        Fixture f = new Fixture();
        PciDevice narrow = new PciDevice("narrow", 0, 0, 0x20, true, 1, true, false); // 2 PASIDs: only PASID 1
        f.core.fwspecInit(narrow, f.m.iommu());
        f.core.deviceAdd(narrow);
        f.core.devEnableFeature(narrow, DevFeature.AUX);
        PciDevice wide = auxDev(f, "wide");
        IommuDomain d1 = f.core.pagingDomainAlloc(wide);
        IommuDomain d2 = f.core.pagingDomainAlloc(wide);
        f.core.auxAttachDevice(d1, narrow);
        assertThat(f.core.auxGetPasid(d1, narrow)).isEqualTo(1);
        // the only PASID of the narrow device is taken: no default PASID for another domain on it
        fails(Errno.ENODEV, () -> f.core.auxAttachDevice(d2, narrow));
        f.core.auxAttachDevice(d2, wide);
        assertThat(f.core.auxGetPasid(d2, wide)).isEqualTo(2);
        fails(Errno.EOVERFLOW, () -> f.core.auxAttachDevice(d2, narrow));
        assertThat(f.core.globalPasids()).containsOnlyKeys(1, 2);
    }

    @Test
    @DisplayName("S06 a failed aux attach undoes exactly itself: the PASID only when nobody else holds it")
    void rollback() {
        Fixture f = new Fixture();
        PciDevice a = auxDev(f, "a");
        PciDevice b = auxDev(f, "b");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.m.failSetDevPasid(d, a, -1, Errno.ENOSPC);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.ENOSPC, () -> f.core.auxAttachDevice(d, a));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.core.globalPasids()).isEmpty();
        fails(Errno.EINVAL, () -> f.core.auxGetPasid(d, a));
        // now b holds the PASID; a's failure must leave it
        f.core.auxAttachDevice(d, b);
        int p = f.core.auxGetPasid(d, b);
        CoreSnapshot withB = f.core.snapshot();
        fails(Errno.ENOSPC, () -> f.core.auxAttachDevice(d, a));
        assertThat(f.core.snapshot()).isEqualTo(withB);
        assertThat(f.core.globalPasids()).containsOnlyKeys(p);
        assertThat(f.m.programmedPasid(b, p)).isSameAs(d);
        // fail_nth on the default PASID's allocation
        IommuDomain d2 = f.core.pagingDomainAlloc(a);
        f.core.failNthAllocation(1);
        fails(Errno.ENODEV, () -> f.core.auxAttachDevice(d2, a));
        assertThat(f.core.globalPasids()).containsOnlyKeys(p);
    }

    @Test
    @DisplayName("S07 aux_get_pasid: the PASID while attached, -EINVAL otherwise (other device, never, after detach)")
    void getPasid() {
        Fixture f = new Fixture();
        PciDevice a = auxDev(f, "a");
        PciDevice b = auxDev(f, "b");
        IommuDomain d = f.core.pagingDomainAlloc(a);
        fails(Errno.EINVAL, () -> f.core.auxGetPasid(d, a));
        f.core.auxAttachDevice(d, a);
        int p = f.core.auxGetPasid(d, a);
        assertThat(p).isPositive();
        fails(Errno.EINVAL, () -> f.core.auxGetPasid(d, b));
        fails(Errno.EINVAL, () -> f.core.auxGetPasid(null, a));
        f.core.auxDetachDevice(d, a);
        fails(Errno.EINVAL, () -> f.core.auxGetPasid(d, a));
    }

    @Test
    @DisplayName("S08 last device out: entry cleared, then every device that could cache the PASID is flushed; otherwise only the leaver")
    void atcInvalidation() {
        Fixture f = new Fixture();
        PciDevice a = auxDev(f, "a");
        PciDevice b = auxDev(f, "b");
        PciDevice c = auxDev(f, "c"); // on another RID domain: never sees the aux PASID
        IommuDomain parent = f.core.pagingDomainAlloc(a);
        f.core.attachDevice(parent, a);
        f.core.attachDevice(parent, b);
        IommuDomain x = f.core.pagingDomainAlloc(a);
        f.core.auxAttachDevice(x, a);
        f.core.auxAttachDevice(x, b);
        int p = f.core.auxGetPasid(x, a);
        f.m.clearEvents();
        f.core.auxDetachDevice(x, a);
        assertThat(f.m.calls("set_dev_pasid", "atc_inv")).containsExactly(
                "set_dev_pasid(" + f.m.blockedDomain() + ", a, " + p + ", old=" + x + ") = 0",
                "atc_inv(a, pasid=" + p + ")");
        f.m.clearEvents();
        f.core.auxDetachDevice(x, b);
        assertThat(f.m.calls("set_dev_pasid", "atc_inv")).containsExactly(
                "set_dev_pasid(" + f.m.blockedDomain() + ", b, " + p + ", old=" + x + ") = 0",
                "atc_inv(b, pasid=" + p + ")",
                "atc_inv(a, pasid=" + p + ")");
        assertThat(f.m.calls("atc_inv")).noneMatch(s -> s.startsWith("atc_inv(c,"));
        assertThat(c).isNotNull();
    }

    @Test
    @DisplayName("S09 the RID domain can change under live aux domains, the PASID entries stay; freeing an aux domain: WARN, not freed")
    void parentLifetime() {
        Fixture f = new Fixture();
        PciDevice a = auxDev(f, "a");
        IommuDomain x = f.core.pagingDomainAlloc(a);
        IommuDomain rid = f.core.pagingDomainAlloc(a);
        f.core.auxAttachDevice(x, a);
        int p = f.core.auxGetPasid(x, a);
        f.core.attachDevice(rid, a);
        assertThat(f.m.programmedPasid(a, p)).isSameAs(x);
        int w = f.core.warningCount();
        f.core.domainFree(x);
        assertThat(f.warningsSince(w)).singleElement().asString().contains("iommu_domain_free", "use-after-free");
        assertThat(x.isFreed()).isFalse();
        f.core.detachDevice(rid, a);
        assertThat(f.m.programmedPasid(a, p)).isSameAs(x);
        f.core.domainFree(rid);
        CoreSnapshot before = f.core.snapshot();
        w = f.core.warningCount();
        f.core.domainFree(x);
        assertThat(f.warningsSince(w)).hasSize(1);
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(x.isFreed()).isFalse();
        f.core.auxDetachDevice(x, a);
        f.core.devDisableFeature(a, DevFeature.AUX);
        f.core.domainFree(x);
    }

    @Test
    @DisplayName("S10 SMMUv2 (table-only): aux attach builds the table, PTBASE gives TTBR0 for it and -ENODEV for others; the GPU switches to it")
    void smmuv2Ptbase() {
        Fixture f = new Fixture(MockConfig.builder("S").maxPasids(0).auxModel(MockConfig.AuxModel.CONTEXT_SWITCH)
                .build());
        PlatformDevice gpu = f.plat("gpu");
        f.m.declareContextSwitchCapable(gpu);
        f.core.deviceAdd(gpu);
        f.core.devEnableFeature(gpu, DevFeature.AUX);
        IommuDomain aux = f.core.pagingDomainAlloc(gpu);
        IommuDomain other = f.core.pagingDomainAlloc(gpu);
        fails(Errno.ENODEV, () -> f.core.domainGetAttr(aux, DomainAttr.PTBASE));
        f.m.clearEvents();
        f.core.auxAttachDevice(aux, gpu);
        assertThat(f.m.calls()).containsExactly("aux_attach_dev(" + aux + ", gpu) = 0");
        assertThat(f.core.globalPasids()).isEmpty();
        fails(Errno.EINVAL, () -> f.core.auxGetPasid(aux, gpu));
        long ttbr0 = f.core.domainGetAttr(aux, DomainAttr.PTBASE);
        assertThat(ttbr0).isEqualTo(((MockDomain) aux).pgtable().root());
        fails(Errno.ENODEV, () -> f.core.domainGetAttr(other, DomainAttr.PTBASE));
        fails(Errno.ENODEV, () -> f.core.domainGetAttr(f.group(gpu).defaultDomain(), DomainAttr.PTBASE));
        fails(Errno.EINVAL, () -> f.core.domainGetAttr(f.m.identityDomain(), DomainAttr.PTBASE));
        // the aux domain maps like any paging domain; the GPU's DMA uses it once it switched TTBR0
        f.core.map(aux, 0x10_0000, 0x5000_0000L, 0x1000, Prot.RW);
        int sid = f.m.sourceIds(gpu).get(0);
        TranslationResult r = new TranslationResult();
        assertThat(f.m.hardware().translate(sid, DmaTranslator.NO_PASID, 0x10_0010, true, false, r)).isFalse();
        f.m.gpuSwitchTtbr0(gpu, ttbr0);
        assertThat(f.m.hardware().translate(sid, DmaTranslator.NO_PASID, 0x10_0010, true, false, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x5000_0010L);
        // S04 holds for table-only aux domains too
        fails(Errno.EINVAL, () -> f.core.attachDevice(aux, gpu));
        f.core.auxDetachDevice(aux, gpu);
        assertThat(f.m.calls("aux_detach_dev")).containsExactly("aux_detach_dev(" + aux + ", gpu)");
        fails(Errno.ENODEV, () -> f.core.domainGetAttr(aux, DomainAttr.PTBASE));
    }

    @Test
    @DisplayName("S11 SMMUv2 split tables: with TTBR1 in use, an IOVA with the split bit set walks TTBR1, others TTBR0")
    void smmuv2SplitTables() {
        Fixture f = new Fixture(MockConfig.builder("S").maxPasids(0).ias(39)
                .auxModel(MockConfig.AuxModel.CONTEXT_SWITCH).build());
        PlatformDevice gpu = f.plat("gpu");
        f.m.declareContextSwitchCapable(gpu);
        f.core.deviceAdd(gpu);
        f.core.devEnableFeature(gpu, DevFeature.AUX);
        IommuDomain low = f.core.pagingDomainAlloc(gpu);
        IommuDomain high = f.core.pagingDomainAlloc(gpu);
        f.core.auxAttachDevice(low, gpu);
        f.core.auxAttachDevice(high, gpu);
        f.core.map(low, 0x2000, 0x6000_0000L, 0x1000, Prot.RW);
        f.core.map(high, 0x2000, 0x7000_0000L, 0x1000, Prot.RW);
        f.m.gpuSwitchTtbr0(gpu, f.core.domainGetAttr(low, DomainAttr.PTBASE));
        int sid = f.m.sourceIds(gpu).get(0);
        long split = 1L << 39;
        TranslationResult r = new TranslationResult();
        assertThat(f.m.hardware().translate(sid, DmaTranslator.NO_PASID, split | 0x2008, false, false, r)).isFalse();
        f.m.gpuSwitchTtbr1(gpu, f.core.domainGetAttr(high, DomainAttr.PTBASE), 39);
        assertThat(f.m.hardware().translate(sid, DmaTranslator.NO_PASID, 0x2008, false, false, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x6000_0008L);
        assertThat(f.m.hardware().translate(sid, DmaTranslator.NO_PASID, split | 0x2008, false, false, r)).isTrue();
        assertThat(r.pa).isEqualTo(0x7000_0008L);
        f.m.gpuSwitchTtbr1(gpu, 0, 39);
        assertThat(f.m.hardware().translate(sid, DmaTranslator.NO_PASID, split | 0x2008, false, false, r)).isFalse();
        assertThat(r.faultName).isEqualTo("out-of-range");
    }

    @Test
    @DisplayName("S12 one platform, both APIs: a PASID taken by the aux API is busy for the PASID API and the reverse")
    void bothApis() {
        Fixture f = new Fixture();
        PciDevice a = auxDev(f, "a");
        IommuDomain x = f.core.pagingDomainAlloc(a);
        IommuDomain y = f.core.pagingDomainAlloc(a);
        f.core.auxAttachDevice(x, a);
        int p = f.core.auxGetPasid(x, a);
        fails(Errno.EBUSY, () -> f.core.attachDevicePasid(y, a, p));
        // the aux entry is a handle in the slot, visible to attach_handle_get
        assertThat(f.core.attachHandleGet(f.group(a), p, null).domain()).isSameAs(x);
        // the PASID API took PASID 2 without the allocator; the aux API's next default PASID is 2
        f.core.attachDevicePasid(y, a, 2);
        IommuDomain z = f.core.pagingDomainAlloc(a);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EBUSY, () -> f.core.auxAttachDevice(z, a));
        assertThat(f.core.snapshot()).isEqualTo(before);
        assertThat(f.core.globalPasids()).containsOnlyKeys(p);
        // taken properly through the allocator, there is no clash
        f.core.detachDevicePasid(y, a, 2);
        int q = f.core.allocGlobalPasid(a);
        f.core.attachDevicePasid(y, a, q);
        f.core.auxAttachDevice(z, a);
        assertThat(f.core.auxGetPasid(z, a)).isNotIn(p, q);
    }

    @Test
    @DisplayName("S05 two aux devices in one group share the group's PASID slot: installed once, removed with the last")
    void sameGroup() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        PciDevice b = f.pci("b");
        f.m.groupWith(b, a);
        f.boot(a, b);
        f.core.devEnableFeature(a, DevFeature.AUX);
        f.core.devEnableFeature(b, DevFeature.AUX);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.m.clearEvents();
        f.core.auxAttachDevice(d, a);
        int p = f.core.auxGetPasid(d, a);
        f.core.auxAttachDevice(d, b);
        assertThat(f.m.calls("set_dev_pasid")).hasSize(2); // both members, by the first attach
        f.core.auxDetachDevice(d, a);
        assertThat(f.m.programmedPasid(b, p)).isSameAs(d);
        assertThat(f.m.programmedPasid(a, p)).isSameAs(d); // the slot is the group's
        f.core.auxDetachDevice(d, b);
        for (Device x : new Device[] {a, b}) {
            assertThat(f.m.programmedPasid(x, p)).isNull();
        }
        assertThat(f.core.globalPasids()).isEmpty();
    }
}
