package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdRegisters.IQH_REG;
import static org.jiommu.hw.vtd.VtdRegisters.IQT_REG;
import static org.jiommu.hw.vtd.VtdRegisters.RTADDR_REG;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.vtd.FaultReason;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.platform.HardwareAgreement;
import org.jiommu.hw.vtd.VtdUnit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the driver puts on the invalidation queue, in which order, and when it lets its caller go:
 * the unmap fan-out (IOTLB per unit and DID, then device-TLB, then wait), the teardown order of
 * an entry being replaced (entry cleared first, then context/PASID cache, IOTLB, device-TLB), and
 * a caller held until the wait descriptor has completed on a unit that runs its queue on its own.
 */
class VtdInvalidationTest {
    /** Descriptors executed by a unit, each with the RID_PASID/context entry word 0 of one SID at that moment. */
    static final class Recorder {
        final List<InvDescriptor> descs = new ArrayList<>();
        final List<Long> entryWord = new ArrayList<>();

        Recorder(VtdFixture f, int sid) {
            f.unit().unit().setDescriptorListener(d -> {
                descs.add(d);
                entryWord.add(ridEntryWord0(f, sid));
            });
        }

        void clear() {
            descs.clear();
            entryWord.clear();
        }
    }

    /** Word 0 of what requests without PASID from {@code sid} use: the legacy context entry, or the RID_PASID PASID entry. */
    static long ridEntryWord0(VtdFixture f, int sid) {
        PhysicalMemory m = f.p.memory();
        long root = f.unit().unit().read64(RTADDR_REG) & ~0xFFFL;
        int devfn = sid & 0xFF;
        boolean sm = f.unit().scalableMode();
        long re = m.readLong(root + (sid >>> 8) * 16L + (sm && devfn > 127 ? 8 : 0));
        if ((re & 1) == 0) {
            return 0;
        }
        if (!sm) {
            return m.readLong((re & ~0xFFFL) + devfn * 16L);
        }
        long ctx = m.readLong((re & ~0xFFFL) + (devfn & 0x7F) * 32L);
        if ((ctx & 1) == 0) {
            return 0;
        }
        long dir = m.readLong(ctx & ~0xFFFL);
        return (dir & 1) == 0 ? 0 : m.readLong(dir & ~0xFFFL);
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("Unmap: page-selective IOTLB for the DID, then the device-TLB, then the wait")
    void unmapOrder(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        f.hotplug(f.nic);
        VtdDomain d = (VtdDomain) f.domain(f.nic);
        int did = d.domainId(f.unit());
        assertThat(did).isEqualTo(VtdIommu.FIRST_DOMAIN_ID);
        f.core().map(d, 0x10000, 0x2000_0000L, 0x3000, Prot.RW);
        Recorder r = new Recorder(f, f.nic.requesterId());
        f.core().unmap(d, 0x10000, 0x3000);
        assertThat(r.descs).containsExactly(
                // IH set: the unmap freed no table page (intel_iommu_tlb_sync)
                new InvDescriptor.IotlbInv(InvDescriptor.G_DEVICE_OR_PAGE, true, true, did, 0x10000, 2, true),
                new InvDescriptor.DeviceTlbInv(f.nic.requesterId(), f.nic.requesterId(), 0, 0x11000, true),
                r.descs.get(2));
        assertThat(r.descs.get(2)).isInstanceOf(InvDescriptor.InvWait.class);
        InvDescriptor.DeviceTlbInv dt = (InvDescriptor.DeviceTlbInv) r.descs.get(1);
        assertThat(dt.rangeStart()).isEqualTo(0x10000);
        assertThat(dt.rangeSize()).isEqualTo(0x4000);

        // A range not aligned to its own size is widened until it is (calculate_psi_aligned_address).
        f.core().map(d, 0x11000, 0x2000_0000L, 0x2000, Prot.RW);
        r.clear();
        f.core().unmap(d, 0x11000, 0x2000);
        InvDescriptor.IotlbInv psi = (InvDescriptor.IotlbInv) r.descs.get(0);
        assertThat(psi.address()).isEqualTo(0x10000);
        assertThat(psi.addressMask()).isEqualTo(2);
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("Attach over a domain: entry cleared (scalable: P only, intel_pasid_tear_down_entry), then context "
            + "or PASID cache, IOTLB, device-TLB, wait")
    void teardownOrder(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        f.hotplug(f.nic);
        VtdDomain d1 = (VtdDomain) f.domain(f.nic);
        int did1 = d1.domainId(f.unit());
        f.core().map(d1, 0x1000, 0x3000_0000L, 0x1000, Prot.RW);
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(0x3000_0000L);
        IommuDomain d2 = f.core().pagingDomainAlloc(f.nic);
        f.core().map(d2, 0x1000, 0x3100_0000L, 0x1000, Prot.RW);
        int sid = f.nic.requesterId();
        Recorder r = new Recorder(f, sid);
        f.core().attachDevice(d2, f.nic);
        f.agree();
        assertThat(r.descs).hasSize(4);
        if (scalable) {
            assertThat(r.descs.get(0)).isEqualTo(new InvDescriptor.PasidCacheInv(InvDescriptor.PC_G_PASID, did1, 0));
        } else {
            assertThat(r.descs.get(0)).isEqualTo(new InvDescriptor.ContextCacheInv(InvDescriptor.G_DEVICE_OR_PAGE, did1,
                    sid, 0));
        }
        assertThat(r.descs.get(1)).isEqualTo(new InvDescriptor.IotlbInv(InvDescriptor.G_DOMAIN, true, true, did1, 0, 0,
                false));
        assertThat(r.descs.get(2)).isInstanceOf(InvDescriptor.DeviceTlbInv.class);
        assertThat(((InvDescriptor.DeviceTlbInv) r.descs.get(2)).rangeSize()).isEqualTo(Long.MAX_VALUE);
        assertThat(r.descs.get(3)).isInstanceOf(InvDescriptor.InvWait.class);
        // The entry was not present while its caches were invalidated: clear first, then flush.
        assertThat(r.entryWord.get(0) & 1).isZero();
        if (scalable) {
            // intel_pasid_tear_down_entry: only P goes before the flush, the rest after it
            assertThat(r.entryWord.get(0)).isNotZero();
            assertThat(r.entryWord.get(3)).isNotZero();
        }
        // The new entry is in place, present, and the old translation is gone from every cache.
        assertThat(ridEntryWord0(f, sid) & 1).isEqualTo(1);
        assertThat(f.write(f.nic, 0x1000, new byte[1])).isEqualTo(0x3100_0000L);
        assertThat(d1.domainId(f.unit())).isEqualTo(-1);
        // device_block_translation ran first and gave d1's id back: d2 takes the lowest free one
        assertThat(((VtdDomain) d2).domainId(f.unit())).isEqualTo(VtdIommu.FIRST_DOMAIN_ID);
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard only
    @DisplayName("Unmap returns only after the wait descriptor completed, on a unit that runs its queue on its own")
    void unmapWaitsForCompletion(boolean scalable) throws Exception {
        VtdConfig cfg = VtdFixture.secondStageConfig(scalable, 48).toBuilder().deferredInvalidation(true).build();
        PhysicalMemory mem = new PhysicalMemory(8L << 30);
        FrameAllocator frames = new FrameAllocator(mem);
        IommuCore core = new IommuCore();
        VtdUnit unit = new VtdUnit(cfg, mem);
        HardwareThread hw = new HardwareThread(unit);
        hw.start();
        try {
            VtdIommuDriver driver = new VtdIommuDriver(core.services(), frames);
            VtdIommu u = driver.addUnit(unit, null);
            core.iommuDeviceRegister(u.iommuDevice());
            PciTopology t = new PciTopology();
            PciDevice nic = t.rootBus(0, 0).rootPort("rp", 0x1c, 0, 1, Acs.ISOLATED)
                    .endpoint("nic", 0, 0, true, 20, false, Acs.NONE);
            unit.registerDeviceTlb(nic.requesterId(), nic.atc());
            core.fwspecInit(nic, u.iommuDevice());
            core.deviceAdd(nic);
            IommuDomain d = core.groupGet(nic).domain();
            core.map(d, 0x4000, 0x2000_0000L, 0x1000, Prot.RW);
            DmaEngine dma = new DmaEngine(nic, t.dmaRequesterId(nic), unit, mem);
            assertThat(dma.write(-1, 0x4000, new byte[4]).ok()).isTrue();

            List<InvDescriptor> seen = new ArrayList<>();
            unit.setDescriptorListener(seen::add);
            hw.hold();
            CompletableFuture<Long> unmap = CompletableFuture.supplyAsync(() -> core.unmap(d, 0x4000, 0x1000));
            while (unit.read64(IQT_REG) == unit.read64(IQH_REG)) {
                Thread.onSpinWait(); // until the driver has posted its batch
            }
            // Posted, not executed: the driver is still waiting for its status write.
            assertThat(unmap).isNotDone();
            assertThat(seen).isEmpty();
            hw.release();
            assertThat(unmap.get()).isEqualTo(0x1000L);
            assertThat(seen.get(seen.size() - 1)).isInstanceOf(InvDescriptor.InvWait.class);
            DmaResult r = dma.write(-1, 0x4000, new byte[4]);
            assertThat(r.faultCode()).isEqualTo(FaultReason.WRITE);
        } finally {
            hw.shutdown();
        }
    }

    /** Hardware that processes its invalidation queue by itself, and can be held. */
    static final class HardwareThread extends Thread {
        private final VtdUnit unit;
        private final java.util.concurrent.locks.ReentrantLock pass = new java.util.concurrent.locks.ReentrantLock();
        private volatile boolean held;
        private volatile boolean stop;

        HardwareThread(VtdUnit unit) {
            this.unit = unit;
            setDaemon(true);
        }

        /** From now on nothing is processed: a pass in progress finishes first. */
        void hold() {
            pass.lock();
            held = true;
            pass.unlock();
        }

        void release() {
            held = false;
        }

        void shutdown() throws InterruptedException {
            stop = true;
            join();
        }

        @Override
        public void run() {
            while (!stop) {
                pass.lock();
                try {
                    if (!held) {
                        unit.processInvalidationQueue();
                    }
                } finally {
                    pass.unlock();
                }
                Thread.onSpinWait();
            }
        }
    }

    @Test
    @DisplayName("A domain on two units: each unit gets a page-selective IOTLB invalidation for its own DID")
    void fanOutToEveryUnit() {
        VtdFixture f = new VtdFixture(VtdPlatform.builder()
                .unit(VtdConfig.builder().name("dmar0").addressWidth(57).firstLevel(false).build(), dev -> dev.bus() == 1)
                .unit(VtdConfig.builder().name("dmar1").addressWidth(48).firstLevel(false).build()));
        f.hotplug(f.nic, f.disk);
        VtdIommu u0 = f.p.unitOf(f.nic);
        VtdIommu u1 = f.p.unitOf(f.disk);
        assertThat(u0.name()).isEqualTo("dmar0");
        assertThat(u1.name()).isEqualTo("dmar1");
        VtdDomain d = (VtdDomain) f.core().pagingDomainAlloc(f.disk);
        assertThat(d.pageTable().levels()).isEqualTo(4);
        f.core().attachDevice(d, f.nic);
        f.agree();
        f.core().attachDevice(d, f.disk);
        f.agree();
        // nic's default domain still holds DID 2 on dmar0 until freed; this one has its own id there
        assertThat(d.domainId(u0)).isGreaterThanOrEqualTo(VtdIommu.FIRST_DOMAIN_ID);
        assertThat(d.domainId(u1)).isGreaterThanOrEqualTo(VtdIommu.FIRST_DOMAIN_ID);
        f.core().map(d, 0x8000, 0x2200_0000L, 0x1000, Prot.RW);
        assertThat(f.write(f.nic, 0x8000, new byte[1])).isEqualTo(0x2200_0000L);
        assertThat(f.write(f.disk, 0x8000, new byte[1])).isEqualTo(0x2200_0000L);
        List<InvDescriptor> on0 = new ArrayList<>();
        List<InvDescriptor> on1 = new ArrayList<>();
        u0.unit().setDescriptorListener(on0::add);
        u1.unit().setDescriptorListener(on1::add);
        f.core().unmap(d, 0x8000, 0x1000);
        assertThat(on0.get(0)).isEqualTo(new InvDescriptor.IotlbInv(3, true, true, d.domainId(u0), 0x8000, 0, true));
        assertThat(on0.get(1)).isInstanceOf(InvDescriptor.DeviceTlbInv.class);
        assertThat(on1.get(0)).isEqualTo(new InvDescriptor.IotlbInv(3, true, true, d.domainId(u1), 0x8000, 0, true));
        assertThat(on1.get(1)).isInstanceOf(InvDescriptor.InvWait.class);
        assertThat(f.write(f.nic, 0x8000, new byte[1])).isEqualTo(-FaultReason.WRITE);
        assertThat(f.write(f.disk, 0x8000, new byte[1])).isEqualTo(-FaultReason.WRITE);

        // A 57-bit table cannot go to a unit without 5-level support: refused by
        // paging_domain_compatible after device_block_translation, so the core keeps def while
        // the device is blocked (the kernel's; I7 reports it), until another domain is attached.
        IommuDomain d57 = f.core().pagingDomainAlloc(f.nic);
        assertThat(((VtdDomain) d57).pageTable().levels()).isEqualTo(5);
        f.core().detachDevice(d, f.disk);
        IommuDomain def = f.domain(f.disk);
        f.core().map(def, 0x8000, 0x2300_0000L, 0x1000, Prot.RW);
        IommuException e = org.assertj.core.api.Assertions.catchThrowableOfType(
                () -> f.core().attachDevice(d57, f.disk), IommuException.class);
        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
        assertThat(f.domain(f.disk)).isSameAs(def);
        assertThat(f.write(f.disk, 0x8000, new byte[1])).isNegative();
        assertThat(VtdHardwareAgreement.check(f.p)).isNotEmpty()
                .allSatisfy(v -> assertThat(v).contains(HardwareAgreement.LEFT_BLOCKED));
        f.core().attachDevice(d, f.disk);
        f.core().detachDevice(d, f.disk);
        assertThat(f.write(f.disk, 0x8000, new byte[1])).isEqualTo(0x2300_0000L);
        f.agree();
    }
}
