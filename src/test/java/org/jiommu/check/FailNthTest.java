package org.jiommu.check;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.check.FailNthSweep.Env;
import org.jiommu.check.FailNthSweep.Outcome;
import org.jiommu.check.FailNthSweep.Source;
import org.jiommu.check.FailNthSweep.Step;
import org.jiommu.core.AttachHandle;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.IopfGroup;
import org.jiommu.core.IopfHandler;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.mm.MmStruct;
import org.jiommu.core.spi.PageResponse;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.mock.MockConfig;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.driver.mock.MockUnits;
import org.jiommu.driver.mock.MockPageTableFactory;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.platform.Platform;
import org.jiommu.mem.PhysicalMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The fail_nth sweep (REFERENCES.md 1a, iommufd_fail_nth.c) over a recorded sequence: probe
 * (a two-device group, a require_direct device, a PCI function), attach / replace / detach,
 * group handles, group and device ownership, DMA-API use, map and unmap of multi-page and
 * block-sized ranges, domain free, release and re-probe into the group. Every call is re-run with its Nth core /
 * driver allocation failing and with its Nth page-table page failing; every failed call must
 * leave the whole platform as it was.
 */
class FailNthTest {
    private static final long DIRECT = 0x8000_0000L;

    /** A fresh platform: mock M, devices a, b (a's group), c (require_direct), p (PCI), on the bus, not probed. */
    private static Env platform(MockConfig mcfg) {
        IommuCore core = new IommuCore(CoreConfig.defaults());
        FrameAllocator frames = new FrameAllocator(new PhysicalMemory(1L << 32));
        MockIommuDriver m = new MockIommuDriver(mcfg, core.services(),
                MockPageTableFactory.armLpae(frames, core.services().warnings()));
        core.iommuDeviceRegister(m.iommu());
        Platform platform = mockPlatform(core, frames, m);
        CoreWatch w = InvariantWatch.of(core);
        if (w != null) {
            w.usePlatform(platform);
        }
        Env e = new Env(platform);
        PlatformDevice a = e.put("a", new PlatformDevice("a", List.of(1), 0));
        PlatformDevice b = e.put("b", new PlatformDevice("b", List.of(2), 0));
        PlatformDevice c = e.put("c", new PlatformDevice("c", List.of(3), 0));
        PciDevice p = e.put("p", new PciDevice("p", 0, 0, 8, true, 20, true, false));
        m.groupWith(b, a);
        m.setResvRegions(c, List.of(ResvRegion.direct(DIRECT, 0x3000)));
        for (Device d : List.of(a, b, c, p)) {
            core.fwspecInit(d, m.iommu());
            core.busAddDevice(d);
        }
        return e;
    }

    private static Step step(String name, java.util.function.Consumer<Env> action) {
        return new Step(name, action);
    }

    private static IommuGroup group(Env e, String dev) {
        return e.core().groupGet(e.<Device>get(dev));
    }

    /** The recorded sequence; every call succeeds on a fresh platform. */
    private static List<Step> sequence() {
        List<Step> s = new ArrayList<>();
        s.add(step("probe a", e -> e.core().probeDevice(e.get("a"))));
        s.add(step("probe b into a's group", e -> e.core().probeDevice(e.get("b"))));
        s.add(step("probe c (require_direct)", e -> e.core().probeDevice(e.get("c"))));
        s.add(step("probe p (PCI)", e -> e.core().probeDevice(e.get("p"))));
        s.add(step("d1 = paging domain", e -> e.put("d1", e.core().pagingDomainAlloc(e.get("a")))));
        s.add(step("attach d1 to a's group", e -> e.core().attachGroup(e.get("d1"), group(e, "a"))));
        s.add(step("map 5 pages into d1", e -> e.core().map(e.get("d1"), 0x100000, 0x4000_0000L, 0x5000, Prot.RW)));
        s.add(step("map 2M+4K into d1", e -> e.core().map(e.get("d1"), 0x400000, 0x600000, 0x201000, Prot.RW)));
        s.add(step("unmap the 5 pages", e -> assertThat(e.core().unmap(e.get("d1"), 0x100000, 0x5000))
                .isEqualTo(0x5000)));
        s.add(step("d2 = paging domain", e -> e.put("d2", e.core().pagingDomainAlloc(e.get("a")))));
        s.add(step("replace a's group by d2", e -> e.core().groupReplaceDomain(group(e, "a"), e.get("d2"))));
        s.add(step("detach a's group", e -> e.core().detachGroup(e.get("d2"), group(e, "a"))));
        s.add(step("claim p's group", e -> e.core().groupClaimDmaOwner(group(e, "p"), "vfio")));
        s.add(step("d3 = paging domain for p", e -> e.put("d3", e.core().pagingDomainAlloc(e.get("p")))));
        s.add(step("attach d3 to p's group with a handle", e -> e.core().attachGroupHandle(e.get("d3"), group(e, "p"),
                e.put("h", new AttachHandle()))));
        s.add(step("map 3 pages into d3", e -> e.core().map(e.get("d3"), 0x10000, 0x20000, 0x3000, Prot.READ)));
        s.add(step("replace the handle by d1", e -> e.core().replaceGroupHandle(group(e, "p"), e.get("d1"),
                e.get("h"))));
        s.add(step("detach the handle", e -> e.core().detachGroupHandle(e.get("d1"), group(e, "p"))));
        s.add(step("release p's group", e -> e.core().groupReleaseDmaOwner(group(e, "p"))));
        s.add(step("device-claim a", e -> e.core().deviceClaimDmaOwner(e.get("a"), "ctx")));
        s.add(step("device-claim b (same owner)", e -> e.core().deviceClaimDmaOwner(e.get("b"), "ctx")));
        s.add(step("device-release b", e -> e.core().deviceReleaseDmaOwner(e.get("b"))));
        s.add(step("device-release a", e -> e.core().deviceReleaseDmaOwner(e.get("a"))));
        s.add(step("DMA API uses c", e -> e.core().deviceUseDefaultDomain(e.get("c"))));
        s.add(step("DMA API stops using c", e -> e.core().deviceUnuseDefaultDomain(e.get("c"))));
        s.add(step("unmap 2M+4K and free d1", e -> {
            e.core().unmap(e.get("d1"), 0x400000, 0x201000);
            e.core().domainFree(e.get("d1"));
        }));
        s.add(step("free d2", e -> e.core().domainFree(e.get("d2"))));
        s.add(step("free d3", e -> e.core().domainFree(e.get("d3"))));
        s.add(step("release b", e -> e.core().releaseDevice(e.get("b"))));
        s.add(step("release c (require_direct)", e -> e.core().releaseDevice(e.get("c"))));
        s.add(step("re-probe b", e -> e.core().probeDevice(e.get("b"))));
        return s;
    }

    private static void assertClean(FailNthSweep.Result r) {
        assertThat(r.problems()).as(String.join("\n", r.problems())).isEmpty();
    }

    @Test
    @DisplayName("fail_nth sweep: every failed call of the sequence leaves core, driver, page tables and frames as they were")
    void sweep() {
        List<Step> seq = sequence();
        FailNthSweep.Result r = FailNthSweep.run(() -> platform(MockConfig.builder("M").build()), seq, Source.CORE,
                Source.FRAMES);
        assertClean(r);
        // the sweep really injects where the calls allocate
        assertThat(r.failures("probe a", Source.CORE)).as("dev_iommu, group, mock probe, domain, cookie, ...")
                .isGreaterThanOrEqualTo(4);
        // a failed DMA-FQ table root falls back to a DMA domain; failed direct mappings are retried
        assertThat(r.count("probe a", Source.FRAMES, Outcome.ABSORBED)).as("the default domain's table root")
                .isPositive();
        assertThat(r.count("probe c (require_direct)", Source.FRAMES, Outcome.ABSORBED))
                .as("table pages of the direct mapping").isGreaterThanOrEqualTo(2);
        assertThat(r.failures("map 2M+4K into d1", Source.FRAMES)).isPositive();
        assertThat(r.failures("attach d3 to p's group with a handle", Source.CORE)).as("xa_insert slot 0").isEqualTo(1);
        assertThat(r.failures("replace the handle by d1", Source.CORE)).as("xa_reserve slot 0").isEqualTo(1);
        assertThat(r.failures("re-probe b", Source.CORE)).as("dev_iommu").isPositive();
        assertThat(r.failures()).isGreaterThan(30);
        // calls that allocate nothing are done at n = 1
        assertThat(r.failures("detach a's group", Source.CORE)).isZero();
        assertThat(r.failures("release b", Source.FRAMES)).isZero();
    }

    @Test
    @DisplayName("fail_nth sweep without a static blocked domain: a claim allocates the blocking domain and undoes it")
    void sweepPagingBlocking() {
        List<Step> seq = List.of(
                step("probe a", e -> e.core().probeDevice(e.get("a"))),
                step("probe b into a's group", e -> e.core().probeDevice(e.get("b"))),
                step("claim a's group", e -> e.core().groupClaimDmaOwner(group(e, "a"), "vfio")),
                step("release a's group", e -> e.core().groupReleaseDmaOwner(group(e, "a"))),
                step("release a", e -> e.core().releaseDevice(e.get("a"))),
                step("release b", e -> e.core().releaseDevice(e.get("b"))));
        FailNthSweep.Result r = FailNthSweep.run(() -> platform(MockConfig.builder("M").staticBlocked(false)
                .releaseDomain(MockConfig.ReleaseDomain.IDENTITY).build()), seq, Source.CORE, Source.FRAMES);
        assertClean(r);
        assertThat(r.failures("claim a's group", Source.CORE)).as("the blocking paging domain").isPositive();
        assertThat(r.failures("claim a's group", Source.FRAMES)).as("its table root").isPositive();
    }

    @Test
    @DisplayName("fail_nth sweep finds a call that leaks a page-table page when it fails")
    void sweepFindsLeak() {
        List<Step> seq = List.of(
                step("probe a", e -> e.core().probeDevice(e.get("a"))),
                step("d1 = paging domain", e -> e.put("d1", e.core().pagingDomainAlloc(e.get("a")))),
                step("leaky map", e -> {
                    e.platform().frames().alloc(0); // taken before the map and never given back on failure
                    e.core().map(e.get("d1"), 0x100000, 0x200000, 0x2000, Prot.RW);
                }));
        FailNthSweep.Result r = FailNthSweep.run(() -> platform(MockConfig.builder("M").build()), seq, Source.FRAMES);
        assertThat(r.problems()).isNotEmpty()
                .anySatisfy(p -> assertThat(p).contains("leaky map").contains("frames: "));
        // the domain allocation of the same sequence is clean
        assertThat(r.problems()).noneMatch(p -> p.contains("d1 = paging domain"));
    }

    @Test
    @DisplayName("fail_nth: a sequence that fails without injection is reported, not swept")
    void referenceMustSucceed() {
        List<Step> seq = List.of(step("attach to nothing", e -> e.core().attachGroup(e.get("nothing"), null)));
        FailNthSweep.Result r = FailNthSweep.run(() -> platform(MockConfig.builder("M").build()), seq, Source.CORE);
        assertThat(r.problems()).singleElement().asString().startsWith("the reference run fails at attach to nothing");
        assertThat(r.attempts()).isEmpty();
    }

    /**
     * A fresh platform for the part-2 calls: mock M, PCI functions p and q (2^20 PASIDs, PRI) on
     * the bus, not probed, and a process address space "proc" with one VMA, made before the
     * platform is described so its top table is part of the frame baseline (I10).
     */
    private static Env pasidPlatform() {
        IommuCore core = new IommuCore(CoreConfig.defaults());
        FrameAllocator frames = new FrameAllocator(new PhysicalMemory(1L << 32));
        MockIommuDriver m = new MockIommuDriver(MockConfig.builder("M").build(), core.services(),
                MockPageTableFactory.armLpae(frames, core.services().warnings()));
        core.iommuDeviceRegister(m.iommu());
        MmStruct mm = new MmStruct("proc", frames);
        mm.mmap(0x10000, 0x10000, Prot.RW);
        Platform platform = mockPlatform(core, frames, m);
        CoreWatch w = InvariantWatch.of(core);
        if (w != null) {
            w.usePlatform(platform);
        }
        Env e = new Env(platform);
        e.put("mm", mm);
        for (String n : List.of("p", "q")) {
            PciDevice d = e.put(n, new PciDevice(n, 0, 0, n.equals("p") ? 8 : 16, true, 20, true, false));
            core.fwspecInit(d, m.iommu());
            core.busAddDevice(d);
        }
        return e;
    }

    /** A page-request handler that keeps the groups it is given, for a later response. */
    private static IopfHandler keep(Env e) {
        return g -> {
            e.<List<IopfGroup>>get("held").add(g);
            return 0;
        };
    }

    /** The part-2 sequence: PASIDs, global PASIDs, features, aux domains, SVA, I/O page faults. */
    private static List<Step> pasidSequence() {
        List<Step> s = new ArrayList<>();
        s.add(step("probe p", e -> e.core().probeDevice(e.get("p"))));
        s.add(step("probe q", e -> e.core().probeDevice(e.get("q"))));
        for (String n : List.of("d1", "d2")) {
            s.add(step(n + " = paging domain", e -> e.put(n, e.core().pagingDomainAlloc(e.get("p")))));
            s.add(step(n + " gets an IOPF handler", e -> {
                e.put("held", new ArrayList<IopfGroup>());
                e.core().domainSetIopfHandler(e.get(n), keep(e));
            }));
        }
        s.add(step("attach d1 to p at PASID 5", e -> e.core().attachDevicePasid(e.get("d1"), e.get("p"), 5,
                new AttachHandle())));
        s.add(step("partial page request at PASID 5", e -> e.core().reportDeviceFault(e.get("p"),
                IopfFault.withPasid(5, 2, false, IopfFault.PERM_READ, 0x1000))));
        s.add(step("last page request at PASID 5", e -> e.core().reportDeviceFault(e.get("p"),
                IopfFault.withPasid(5, 2, true, IopfFault.PERM_READ, 0x2000))));
        s.add(step("answer and free the page request group", e -> {
            for (IopfGroup g : e.<List<IopfGroup>>get("held")) {
                e.core().iopfGroupResponse(g, PageResponse.Code.SUCCESS);
                e.core().iopfFreeGroup(g);
            }
        }));
        s.add(step("replace PASID 5 of p by d2", e -> e.core().replaceDevicePasid(e.get("d2"), e.get("p"), 5,
                new AttachHandle())));
        s.add(step("detach PASID 5 of p", e -> e.core().detachDevicePasid(e.get("d2"), e.get("p"), 5)));
        s.add(step("global PASID for q", e -> {
            int pasid = e.core().allocGlobalPasid(e.get("q"));
            if (pasid == IommuCore.IOMMU_PASID_INVALID) {
                // what a caller does with IOMMU_PASID_INVALID (idxd: no PASID, the call fails)
                throw new IommuException(Errno.ENOMEM, "no global PASID for q");
            }
            e.put("gp", pasid);
        }));
        s.add(step("free the global PASID", e -> e.core().freeGlobalPasid(e.<Integer>get("gp"))));
        s.add(step("enable AUX on q", e -> e.core().devEnableFeature(e.get("q"), DevFeature.AUX)));
        s.add(step("aux = paging domain for q", e -> e.put("aux", e.core().pagingDomainAlloc(e.get("q")))));
        s.add(step("aux attach to q", e -> e.core().auxAttachDevice(e.get("aux"), e.get("q"))));
        s.add(step("aux detach from q", e -> e.core().auxDetachDevice(e.get("aux"), e.get("q"))));
        s.add(step("disable AUX on q", e -> e.core().devDisableFeature(e.get("q"), DevFeature.AUX)));
        s.add(step("SVA bind p", e -> e.put("bp", e.core().svaBindDevice(e.get("p"), e.get("mm")))));
        s.add(step("SVA bind q", e -> e.put("bq", e.core().svaBindDevice(e.get("q"), e.get("mm")))));
        s.add(step("SVA page request from p", e -> e.core().reportDeviceFault(e.get("p"), IopfFault.withPasid(
                e.core().mmPasid(e.get("mm")), 3, true, IopfFault.PERM_READ | IopfFault.PERM_WRITE, 0x11000))));
        s.add(step("SVA unbind q", e -> e.core().svaUnbindDevice(e.get("bq"))));
        s.add(step("SVA unbind p", e -> e.core().svaUnbindDevice(e.get("bp"))));
        s.add(step("IOPF queue for q", e -> e.put("iq", e.core().iopfQueueAlloc("iq"))));
        s.add(step("add q to the IOPF queue", e -> e.core().iopfQueueAddDevice(e.get("iq"), e.get("q"))));
        s.add(step("remove q from the IOPF queue", e -> e.core().iopfQueueRemoveDevice(e.get("iq"), e.get("q"))));
        s.add(step("free the IOPF queue", e -> e.core().iopfQueueFree(e.get("iq"))));
        s.add(step("free d1, d2, aux", e -> {
            for (String n : List.of("d1", "d2", "aux")) {
                e.core().domainFree(e.get(n));
            }
        }));
        return s;
    }

    @Test
    @DisplayName("fail_nth sweep over the part-2 calls: PASID attach/replace/detach, global PASIDs, features, aux, SVA, IOPF")
    void sweepPasidCalls() {
        FailNthSweep.Result r = FailNthSweep.run(FailNthTest::pasidPlatform, pasidSequence(), Source.CORE,
                Source.FRAMES);
        assertClean(r);
        // the sweep really injects at the part-2 allocation sites, and each such failure is -ENOMEM
        // (SVA bind: a failed global PASID is -ENOSPC, as iommu_alloc_mm_data turns IOMMU_PASID_INVALID)
        for (String step : List.of("attach d1 to p at PASID 5", "replace PASID 5 of p by d2", "global PASID for q",
                "SVA bind p", "SVA bind q", "IOPF queue for q", "add q to the IOPF queue")) {
            assertThat(r.failures(step, Source.CORE)).as(step).isPositive();
            assertThat(r.attempts()).filteredOn(a -> a.step().equals(step) && a.outcome() == Outcome.FAILED_CLEANLY)
                    .as(step).allMatch(a -> a.detail().equals("ENOMEM")
                            || step.equals("SVA bind p") && a.detail().equals("ENOSPC"));
        }
        assertThat(r.attempts()).filteredOn(a -> a.step().equals("SVA bind p")).extracting(FailNthSweep.Attempt::detail)
                .contains("ENOSPC");
        // the aux API reports a failed default-PASID allocation as -ENODEV (aux_domain_add_dev, seed 001)
        assertThat(r.attempts()).filteredOn(a -> a.step().equals("aux attach to q")
                && a.outcome() == Outcome.FAILED_CLEANLY).extracting(FailNthSweep.Attempt::detail).contains("ENODEV");
        // a non-last request whose allocation fails is dropped (it needs no answer); a last one whose
        // group allocation fails is answered through the abort group: neither leaves anything behind
        assertThat(r.count("partial page request at PASID 5", Source.CORE, Outcome.FAILED_DIRTY)).isZero();
        assertThat(r.count("last page request at PASID 5", Source.CORE, Outcome.FAILED_DIRTY)).isZero();
        // the SVA fault maps a page of the process on demand: its table pages can fail
        assertThat(r.attempts()).anyMatch(a -> a.step().equals("SVA page request from p") && a.source() == Source.FRAMES
                && a.n() == 1 && a.outcome() != Outcome.DONE);
        // every step is swept to the end
        for (Step st : pasidSequence()) {
            for (Source src : Source.values()) {
                assertThat(r.count(st.name(), src, Outcome.DONE)).as(st.name() + " " + src).isEqualTo(1);
            }
        }
    }

    /** The platform of a core and mock driver the test built itself, its frame baseline now. */
    static Platform mockPlatform(IommuCore core, FrameAllocator frames, MockIommuDriver m) {
        Platform p = new Platform(frames.memory(), frames, core);
        p.adopt(MockUnits.adopt(p, m));
        p.takeBaseline();
        return p;
    }
}
