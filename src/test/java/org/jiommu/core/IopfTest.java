package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 10 and scenarios #95-#100; SVA faults resolved against the mm; S19 with PASIDs; iommufd rule 10. */
class IopfTest {
    private static final int W = IopfFault.PERM_WRITE;
    private static final int R = IopfFault.PERM_READ;

    /** A device with a fault-handling domain at PASID 3; the handler's groups land in {@code got}. */
    private static final class Setup {
        final Fixture f;
        final PciDevice a;
        final IommuDomain d;
        final List<IopfGroup> got = new ArrayList<>();
        int handlerResult;
        PageResponse.Code respond;

        Setup(MockConfig cfg) {
            f = new Fixture(cfg);
            a = f.pci("a");
            f.core.deviceAdd(a);
            d = f.core.pagingDomainAlloc(a);
            f.core.domainSetIopfHandler(d, g -> {
                got.add(g);
                if (respond != null) {
                    f.core.iopfGroupResponse(g, respond);
                    f.core.iopfGroupResponse(g, respond);
                    f.core.iopfFreeGroup(g);
                }
                return handlerResult;
            });
            f.core.attachDevicePasid(d, a, 3, new AttachHandle());
        }

        Setup() {
            this(MockConfig.builder("M").build());
        }

        List<String> responses() {
            return f.m.calls("page_response");
        }
    }

    @Test
    @DisplayName("#95 no handler at the fault's PASID: page_response(INVALID) at once and -EINVAL")
    void noHandler() {
        Setup s = new Setup();
        fails(Errno.EINVAL, () -> s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(4, 1, true, R, 0x1000)));
        assertThat(s.responses()).containsExactly("page_response(a, pasid=4, grp=1, INVALID)");
        // a domain without a handler does not take faults either, nor a bare domain entry
        IommuDomain plain = s.f.core.pagingDomainAlloc(s.a);
        s.f.core.attachDevicePasid(plain, s.a, 5, new AttachHandle());
        fails(Errno.EINVAL, () -> s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(5, 2, true, R, 0x1000)));
        // a request without PASID goes to slot 0: no group handle there
        fails(Errno.EINVAL, () -> s.f.core.reportDeviceFault(s.a, IopfFault.noPasid(3, true, R, 0x1000)));
        assertThat(s.responses()).hasSize(3);
        assertThat(s.got).isEmpty();
    }

    @Test
    @DisplayName("#96 group assembly: non-last grp 5, non-last grp 6, last grp 5: the handler gets grp 5's two; grp 6 stays partial")
    void groupAssembly() {
        Setup s = new Setup();
        s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(3, 5, false, R, 0x1000));
        s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(3, 6, false, R, 0x2000));
        assertThat(s.got).isEmpty();
        assertThat(s.f.core.snapshot().iopf().get(s.a).partial()).isEqualTo(2);
        s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(3, 5, true, W, 0x3000));
        assertThat(s.got).hasSize(1);
        IopfGroup g = s.got.get(0);
        assertThat(g.faults()).extracting(IopfFault::addr).containsExactly(0x1000L, 0x3000L);
        assertThat(g.lastFault().grpid()).isEqualTo(5);
        assertThat(g.domain()).isSameAs(s.d);
        assertThat(g.pending()).isTrue();
        CoreSnapshot.IopfState st = s.f.core.snapshot().iopf().get(s.a);
        assertThat(st.partial()).isEqualTo(1);
        assertThat(st.pending()).containsExactly(g.serial());
        assertThat(s.responses()).isEmpty();
        s.f.core.iopfGroupResponse(g, PageResponse.Code.SUCCESS);
        assertThat(s.responses()).containsExactly("page_response(a, pasid=3, grp=5, SUCCESS)");
        s.f.core.iopfFreeGroup(g);
        assertThat(s.f.core.snapshot().iopf().get(s.a).pending()).isEmpty();
        // discard_partial drops grp 6
        s.f.core.iopfQueueDiscardPartial((IopfQueue) s.f.m.iopfQueueRef());
        assertThat(s.f.core.snapshot().iopf().get(s.a).partial()).isZero();
    }

    @Test
    @DisplayName("#97 the handler fails: page_response(FAILURE), the report itself returns 0")
    void handlerError() {
        Setup s = new Setup();
        s.handlerResult = Errno.ENOMEM.neg();
        s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(3, 7, true, R, 0x1000));
        assertThat(s.responses()).containsExactly("page_response(a, pasid=3, grp=7, FAILURE)");
        assertThat(s.f.core.snapshot().iopf().get(s.a).responses()).isEmpty(); // the group was freed
    }

    @Test
    @DisplayName("#98 I-IOPF-ONCE: a handler answering SUCCESS twice sends one page_response")
    void singleResponse() {
        Setup s = new Setup();
        s.respond = PageResponse.Code.SUCCESS;
        s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(3, 8, true, R, 0x1000));
        assertThat(s.responses()).containsExactly("page_response(a, pasid=3, grp=8, SUCCESS)");
        // and a late answer after the group was freed does nothing either
        s.f.core.iopfGroupResponse(s.got.get(0), PageResponse.Code.FAILURE);
        assertThat(s.responses()).hasSize(1);
    }

    @Test
    @DisplayName("#99 queue add: a driver without page_response -ENODEV; the same device twice -EBUSY")
    void queueAdd() {
        Fixture f = new Fixture(MockConfig.builder("M").pageResponseOp(false).build());
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        IopfQueue q = f.core.iopfQueueAlloc("q");
        fails(Errno.ENODEV, () -> f.core.iopfQueueAddDevice(q, a));
        // without page_response the driver cannot enable IOPF: its device never gets a fault parameter
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.domainSetIopfHandler(d, g -> 0);
        f.core.attachDevicePasid(d, a, 2);
        assertThat(f.core.snapshot().iopf()).isEmpty();
        fails(Errno.EINVAL, () -> f.core.reportDeviceFault(a, IopfFault.withPasid(2, 1, true, R, 0x1000)));

        Fixture g = new Fixture();
        PciDevice b = g.pci("b");
        g.core.deviceAdd(b);
        IopfQueue q2 = g.core.iopfQueueAlloc("q2");
        g.core.iopfQueueAddDevice(q2, b);
        fails(Errno.EBUSY, () -> g.core.iopfQueueAddDevice(q2, b));
        assertThat(q2.devices()).containsExactly(b);
        assertThat(g.core.snapshot().iopf()).containsOnlyKeys(b);
        g.core.iopfQueueFlushDev(b);
        g.core.iopfQueueFree(q2);
        assertThat(g.core.snapshot().iopf()).isEmpty();
        int w = g.core.warningCount();
        fails(Errno.ENODEV, () -> g.core.iopfQueueFlushDev(b));
        g.core.iopfQueueRemoveDevice(q2, b); // not on it: WARN
        assertThat(g.core.warningCount()).isEqualTo(w + 2);
    }

    @Test
    @DisplayName("#100 I-IOPF-ONCE the device leaves its queue: the pending group is answered INVALID and freed, partials dropped; a late answer is a no-op")
    void queueRemove() {
        Setup s = new Setup();
        s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(3, 1, false, R, 0x1000));
        s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(3, 2, true, R, 0x2000));
        IopfGroup g = s.got.get(0);
        assertThat(s.f.m.iopfEnabled(s.a)).isTrue();
        // the driver's detach path drops its last IOPF reference and takes the device off its queue
        s.f.core.detachDevicePasid(s.d, s.a, 3);
        assertThat(s.f.m.iopfEnabled(s.a)).isFalse();
        assertThat(s.responses()).containsExactly("page_response(a, pasid=3, grp=2, INVALID)");
        assertThat(g.pending()).isFalse();
        assertThat(s.f.core.snapshot().iopf()).doesNotContainKey(s.a);
        s.f.core.iopfGroupResponse(g, PageResponse.Code.SUCCESS);
        s.f.core.iopfFreeGroup(g);
        assertThat(s.responses()).hasSize(1);
        assertThat(s.f.m.iopfRefcount(s.a)).isZero();
    }

    @Test
    @DisplayName("#100 fail_nth on the group allocation: the abort group answers FAILURE, nothing reaches the handler")
    void abortGroup() {
        Setup s = new Setup();
        s.f.core.failNthAllocation(1);
        s.f.core.reportDeviceFault(s.a, IopfFault.withPasid(3, 9, true, R, 0x1000));
        assertThat(s.got).isEmpty();
        assertThat(s.responses()).containsExactly("page_response(a, pasid=3, grp=9, FAILURE)");
    }

    @Test
    @DisplayName("#99 S19 the driver cannot enable IOPF (its queue or the fault parameter fails): the attach fails, nothing changes")
    void iopfEnableFails() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.domainSetIopfHandler(d, g -> 0);
        for (int nth = 1; nth <= 3; nth++) {
            CoreSnapshot before = f.core.snapshot();
            // 1: the PASID slot's reservation, 2: the driver's IOPF queue, 3: the device's fault parameter
            f.core.failNthAllocation(nth);
            fails(Errno.ENOMEM, () -> f.core.attachDevicePasid(d, a, 4));
            assertThat(f.core.snapshot()).isEqualTo(before);
            assertThat(f.m.iopfEnabled(a)).isFalse();
            assertThat(f.m.iopfRefcount(a)).isZero();
        }
        assertThat(f.m.calls("iopf_queue_add_device")).containsExactly(
                "iopf_queue_add_device(a) = " + Errno.describe(Errno.ENOMEM.neg()),
                "iopf_queue_add_device(a) = " + Errno.describe(Errno.ENOMEM.neg()));
        f.core.attachDevicePasid(d, a, 4);
        assertThat(f.m.iopfEnabled(a)).isTrue();
    }

    @Test
    @DisplayName("#79 #97 SVA faults resolve against the mm: a page in a VMA is mapped on demand (SUCCESS) and the DMA retry lands")
    void svaDemandPaging() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        MmStruct mm = new MmStruct("proc", f.frames);
        mm.mmap(0x40_0000, 0x4000, Prot.RW);
        mm.mmap(0x50_0000, 0x1000, Prot.READ);
        SvaHandle h = f.core.svaBindDevice(a, mm);
        int pasid = f.core.svaGetPasid(h);
        assertThat(f.m.iopfEnabled(a)).isTrue();
        DmaEngine eng = new DmaEngine(a, f.m.sourceIds(a).get(0), f.m.hardware(), f.mem);
        DmaResult r = eng.write(pasid, 0x40_2004, new byte[] {5, 6}, 0, 2, new DmaResult());
        assertThat(r.ok()).isFalse();
        // the device sends a page request for the faulting page; the SVA handler maps it
        f.core.reportDeviceFault(a, IopfFault.withPasid(pasid, 1, true, W, r.faultIova() & ~0xfffL));
        assertThat(f.m.calls("page_response")).containsExactly("page_response(a, pasid=" + pasid + ", grp=1, SUCCESS)");
        assertThat(mm.translate(0x40_2000)).isNotZero();
        assertThat(eng.write(pasid, 0x40_2004, new byte[] {5, 6}, 0, 2, new DmaResult()).ok()).isTrue();
        assertThat(f.mem.read(mm.translate(0x40_2004), 2)).containsExactly(5, 6);
        // outside any VMA, or a write to a read-only VMA: INVALID, nothing mapped
        f.core.reportDeviceFault(a, IopfFault.withPasid(pasid, 2, true, R, 0x90_0000));
        f.core.reportDeviceFault(a, IopfFault.withPasid(pasid, 3, true, W, 0x50_0000));
        assertThat(f.m.calls("page_response")).endsWith("page_response(a, pasid=" + pasid + ", grp=2, INVALID)",
                "page_response(a, pasid=" + pasid + ", grp=3, INVALID)");
        assertThat(mm.translate(0x50_0000)).isZero();
        // a read of the read-only VMA is fine
        f.core.reportDeviceFault(a, IopfFault.withPasid(pasid, 4, true, R, 0x50_0000));
        assertThat(f.m.calls("page_response")).last().asString().endsWith("grp=4, SUCCESS)");
        // a group stops at its first bad request
        f.core.reportDeviceFault(a, IopfFault.withPasid(pasid, 5, false, R, 0x90_0000));
        f.core.reportDeviceFault(a, IopfFault.withPasid(pasid, 5, true, W, 0x40_3000));
        assertThat(f.m.calls("page_response")).last().asString().endsWith("grp=5, INVALID)");
        assertThat(mm.translate(0x40_3000)).isZero();
        // the process exits: everything is INVALID
        mm.exit();
        f.core.reportDeviceFault(a, IopfFault.withPasid(pasid, 6, true, W, 0x40_0000));
        assertThat(f.m.calls("page_response")).last().asString().endsWith("grp=6, INVALID)");
        assertThat(eng.write(pasid, 0x40_2004, new byte[] {1}, 0, 1, new DmaResult()).ok()).isFalse();
    }

    @Test
    @DisplayName("S19 the IOPF reference follows PASID attachments of fault-handling domains; zero with none left, on an identity RID")
    void refcountWithPasids() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        f.core.attachGroup(f.m.identityDomain(), f.group(a));
        MmStruct mm = new MmStruct("p", f.frames);
        SvaHandle h = f.core.svaBindDevice(a, mm);
        assertThat(f.m.iopfRefcount(a)).isEqualTo(1);
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.domainSetIopfHandler(d, g -> 0);
        f.core.attachDevicePasid(d, a, 9);
        assertThat(f.m.iopfRefcount(a)).isEqualTo(2);
        fails(Errno.EBUSY, () -> f.core.domainSetIopfHandler(d, null)); // attached: the driver counted it
        int w = f.core.warningCount();
        f.core.detachDevicePasid(d, a, 9);
        f.core.svaUnbindDevice(h);
        assertThat(f.m.iopfRefcount(a)).isZero();
        assertThat(f.m.iopfEnabled(a)).isFalse();
        assertThat(f.core.warningCount()).isEqualTo(w);
    }

    @Test
    @DisplayName("S19 a driver leaking its IOPF reference on a PASID detach is reported on the identity RID")
    void refcountLeak() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        f.core.attachGroup(f.m.identityDomain(), f.group(a));
        IommuDomain d = f.core.pagingDomainAlloc(a);
        f.core.domainSetIopfHandler(d, g -> 0);
        f.core.attachDevicePasid(d, a, 9);
        f.m.leakIopfRefcount(true);
        int w = f.core.warningCount();
        f.core.detachDevicePasid(d, a, 9);
        assertThat(f.warningsSince(w)).hasSize(1).allMatch(x -> x.contains("iopf_refcount 1"));
    }

    @Test
    @DisplayName("iommufd PASID rule 10: a fault-handling domain on a PASID gets faults tagged with it; replace to a plain domain works")
    void iommufdRule10() {
        Fixture f = new Fixture(MockConfig.builder("M").pasidCompatCheck(true).build());
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        IommuDomain iopfDom = f.core.pagingDomainAllocFlags(a, AllocFlags.PASID);
        IommuDomain s2 = f.core.pagingDomainAllocFlags(a, AllocFlags.PASID);
        List<IopfGroup> got = new ArrayList<>();
        f.core.domainSetIopfHandler(iopfDom, g -> {
            got.add(g);
            f.core.iopfGroupResponse(g, PageResponse.Code.SUCCESS);
            f.core.iopfFreeGroup(g);
            return 0;
        });
        f.core.attachDevicePasid(iopfDom, a, 100, new AttachHandle());
        f.core.reportDeviceFault(a, IopfFault.withPasid(100, 1, true, R, 0x1000));
        assertThat(got).hasSize(1);
        assertThat(got.get(0).lastFault().pasid()).isEqualTo(100);
        assertThat(got.get(0).domain()).isSameAs(iopfDom);
        f.core.replaceDevicePasid(s2, a, 100, new AttachHandle());
        assertThat(f.m.programmedPasid(a, 100)).isSameAs(s2);
        assertThat(f.m.iopfEnabled(a)).isFalse();
        fails(Errno.EINVAL, () -> f.core.reportDeviceFault(a, IopfFault.withPasid(100, 2, true, R, 0x1000)));
    }
}
