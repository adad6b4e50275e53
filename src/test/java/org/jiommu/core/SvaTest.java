package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockDomain;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 8.5 and scenarios #79-#82: process address spaces bound to devices. */
class SvaTest {
    private static PciDevice pci(Fixture f, String name) {
        PciDevice d = f.pci(name);
        f.core.deviceAdd(d);
        return d;
    }

    @Test
    @DisplayName("#79 bind twice: same handle, two users, one set_dev_pasid; another group shares the PASID and the SVA domain")
    void bindShare() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        PciDevice b = pci(f, "b");
        MmStruct mm = new MmStruct("proc", f.frames);
        f.m.clearEvents();
        SvaHandle h = f.core.svaBindDevice(a, mm);
        SvaHandle h2 = f.core.svaBindDevice(a, mm);
        assertThat(h2).isSameAs(h);
        assertThat(h.users()).isEqualTo(2);
        int pasid = f.core.svaGetPasid(h);
        assertThat(pasid).isEqualTo(1).isEqualTo(f.core.mmPasid(mm));
        assertThat(f.m.calls("set_dev_pasid")).hasSize(1);
        IommuDomain sva = h.domain();
        assertThat(sva.type()).isEqualTo(DomainType.SVA);
        assertThat(sva.hasIopfHandler()).isTrue();
        assertThat(((MockDomain) sva).mm()).isSameAs(mm);
        assertThat(f.core.attachHandleGet(f.group(a), pasid, DomainType.SVA)).isSameAs(h);
        SvaHandle hb = f.core.svaBindDevice(b, mm);
        assertThat(hb).isNotSameAs(h);
        assertThat(f.core.svaGetPasid(hb)).isEqualTo(pasid);
        assertThat(hb.domain()).isSameAs(sva);
        assertThat(f.core.snapshot().svaDomains()).containsEntry(sva, new CoreSnapshot.SvaDomainState(mm, 2));
        assertThat(f.m.calls("domain_alloc_sva")).hasSize(1);
        assertThat(f.m.programmedPasid(b, pasid)).isSameAs(sva);
    }

    @Test
    @DisplayName("#80 the mm's PASID 9 is beyond a device with 8 PASIDs: -EOVERFLOW")
    void overflow() {
        Fixture f = new Fixture();
        PciDevice wide = pci(f, "wide");
        for (int i = 1; i <= 8; i++) {
            assertThat(f.core.allocGlobalPasid(wide)).isEqualTo(i);
        }
        MmStruct mm = new MmStruct("proc", f.frames);
        SvaHandle h = f.core.svaBindDevice(wide, mm);
        assertThat(f.core.svaGetPasid(h)).isEqualTo(9);
        PciDevice narrow = new PciDevice("narrow", 0, 0, 0x40, true, 3, true, false); // 8 PASIDs
        f.core.fwspecInit(narrow, f.m.iommu());
        f.core.deviceAdd(narrow);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EOVERFLOW, () -> f.core.svaBindDevice(narrow, mm));
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#81 the mm's PASID slot holds an UNMANAGED domain: bind -EBUSY")
    void slotTaken() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        PciDevice b = pci(f, "b");
        MmStruct mm = new MmStruct("proc", f.frames);
        f.core.svaBindDevice(b, mm); // the mm gets PASID 1
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.attachDevicePasid(d, a, 1, new AttachHandle());
        fails(Errno.EBUSY, () -> f.core.svaBindDevice(a, mm));
        f.core.detachDevicePasid(d, a, 1);
        f.core.attachDevicePasid(d, a, 1); // a bare domain entry: no handle, attach finds it busy
        fails(Errno.EBUSY, () -> f.core.svaBindDevice(a, mm));
        assertThat(f.m.programmedPasid(a, 1)).isSameAs(d);
    }

    @Test
    @DisplayName("#82 two binds then two unbinds: detach only on the second; the domain goes with its last user; the PASID stays with the mm")
    void unbind() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        long frames = f.frames.stats().liveBlocks();
        MmStruct mm = new MmStruct("proc", f.frames);
        SvaHandle h = f.core.svaBindDevice(a, mm);
        f.core.svaBindDevice(a, mm);
        IommuDomain sva = h.domain();
        int pasid = f.core.svaGetPasid(h);
        f.m.clearEvents();
        f.core.svaUnbindDevice(h);
        assertThat(f.m.events()).isEmpty();
        assertThat(h.users()).isEqualTo(1);
        int w0 = f.core.warningCount();
        f.core.domainFree(sva); // still bound: a WARN, not freed (S09)
        assertThat(f.core.warningCount()).isEqualTo(w0 + 1);
        assertThat(sva.isFreed()).isFalse();
        f.core.svaUnbindDevice(h);
        assertThat(f.m.calls("set_dev_pasid", "free")).containsExactly(
                "set_dev_pasid(" + f.m.blockedDomain() + ", a, " + pasid + ", old=" + sva + ") = 0",
                "free(" + sva + ")");
        assertThat(sva.isFreed()).isTrue();
        assertThat(f.core.liveDomains()).doesNotContain(sva);
        assertThat(f.group(a).pasidArray).isEmpty();
        assertThat(f.core.mmPasid(mm)).isEqualTo(pasid);
        assertThat(f.core.globalPasids()).containsOnlyKeys(pasid);
        int w = f.core.warningCount();
        f.core.svaUnbindDevice(h); // already gone: WARN
        assertThat(f.core.warningCount()).isEqualTo(w + 1);
        // mm teardown gives the PASID back
        mm.exit();
        f.core.mmPasidDrop(mm);
        mm.mmdrop();
        assertThat(f.core.mmPasid(mm)).isEqualTo(IommuCore.IOMMU_PASID_INVALID);
        assertThat(f.core.globalPasids()).isEmpty();
        assertThat(f.frames.stats().liveBlocks()).isEqualTo(frames);
    }

    @Test
    @DisplayName("#82 I-MM-PASID: the mm's PASID does not change across unbind/rebind and is dropped only at teardown (-EBUSY while bound)")
    void mmPasidStable() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        MmStruct mm = new MmStruct("proc", f.frames);
        SvaHandle h = f.core.svaBindDevice(a, mm);
        int pasid = f.core.mmPasid(mm);
        fails(Errno.EBUSY, () -> f.core.mmPasidDrop(mm));
        f.core.svaUnbindDevice(h);
        f.core.allocGlobalPasid(a); // takes 2: the mm keeps 1 regardless
        SvaHandle h2 = f.core.svaBindDevice(a, mm);
        assertThat(f.core.svaGetPasid(h2)).isEqualTo(pasid);
        assertThat(h2).isNotSameAs(h);
    }

    @Test
    @DisplayName("#79 SVA bind refusals: mm the IOMMU cannot follow -EBUSY; no PASIDs; no domain_alloc_sva -EOPNOTSUPP; driver failure frees the new domain")
    void refusals() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        MmStruct lam = new MmStruct("lam", f.frames);
        lam.setDmaCompatible(false);
        fails(Errno.EBUSY, () -> f.core.svaBindDevice(a, lam));
        assertThat(f.core.mmPasid(lam)).isEqualTo(IommuCore.IOMMU_PASID_INVALID);
        MmStruct mm = new MmStruct("proc", f.frames);
        fails(Errno.ENOSPC, () -> f.core.svaBindDevice(f.add("plat"), mm));
        fails(Errno.ENODEV, () -> f.core.svaBindDevice(f.pci("lone"), mm));
        int live = f.core.liveDomains().size();
        f.m.failSetDevPasid(null, a, -1, Errno.ENOSPC);
        fails(Errno.ENOSPC, () -> f.core.svaBindDevice(a, mm));
        assertThat(f.core.liveDomains()).hasSize(live);
        assertThat(f.m.liveDomains().stream().filter(d -> ((MockDomain) d).mm() != null)).isEmpty();
        assertThat(f.core.mmPasid(mm)).isEqualTo(1); // the mm keeps the PASID it got
        Fixture n = new Fixture(MockConfig.builder("N").svaSupport(false).build());
        PciDevice b = n.pci("b");
        n.core.deviceAdd(b);
        fails(Errno.EOPNOTSUPP, () -> n.core.svaBindDevice(b, new MmStruct("p", n.frames)));
    }

    @Test
    @DisplayName("#79 a device's DMA at the mm's PASID walks the process page table: CPU-populated pages are seen")
    void dmaThroughMm() {
        Fixture f = new Fixture();
        PciDevice a = pci(f, "a");
        MmStruct mm = new MmStruct("proc", f.frames);
        mm.mmap(0x40_0000, 0x4000, Prot.RW);
        assertThat(mm.handleMmFault(0x40_1000, true, false)).isEqualTo(MmStruct.FaultResult.SUCCESS);
        SvaHandle h = f.core.svaBindDevice(a, mm);
        int pasid = f.core.svaGetPasid(h);
        DmaEngine eng = new DmaEngine(a, f.m.sourceIds(a).get(0), f.m.hardware(), f.mem);
        DmaResult r = eng.write(pasid, 0x40_1010, new byte[] {7, 8, 9}, 0, 3, new DmaResult());
        assertThat(r.ok()).isTrue();
        assertThat(f.mem.read(mm.translate(0x40_1010), 3)).containsExactly(7, 8, 9);
        // SVA cannot be switched off under a bond (the SMMUv3 rule, for every driver)
        f.core.devEnableFeature(a, org.jiommu.core.spi.DevFeature.SVA);
        fails(Errno.EBUSY, () -> f.core.devDisableFeature(a, org.jiommu.core.spi.DevFeature.SVA));
        // a page the process never touched is not present for the device either
        assertThat(eng.write(pasid, 0x40_2000, new byte[] {1}, 0, 1, new DmaResult()).ok()).isFalse();
    }
}
