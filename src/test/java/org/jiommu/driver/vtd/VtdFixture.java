package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.TraceEvent;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.hw.vtd.FaultRecord;
import org.jiommu.hw.vtd.PasidEntry;
import org.jiommu.hw.vtd.VtdRegisters;
import org.jiommu.hw.vtd.VtdConfig;
import org.jiommu.platform.HardwareAgreement;

/**
 * A VT-d platform with a small PCI tree, as the driver tests use it:
 * <pre>
 * 00:1c.0 root port (ACS) -> 01:00.0 nic   ATS, 20-bit PASID, PRI
 * 00:1d.0 root port (ACS) -> 02:00.0 disk  no ATS, no PASID
 * 00:1e.0 PCIe-to-PCI bridge -> 03:00.0 leg0, 03:01.0 leg1 (conventional PCI: DMA aliased to 03:00.0)
 * </pre>
 * The bridge alias 03:00.0 is leg0's own requester id, so scalable mode, which sets up a context
 * entry only for a device's own ids (intel_pasid_setup_sm_context), still gives the pair one:
 * leg0's, and leg1's DMA walks leg0's PASID directory. Functions behind a bridge none of which
 * sits at devfn 0 fault in scalable mode (VtdAliasTest).
 * 
 * Devices are created but not added; {@link #hotplug} adds them. Invariant I7 is checked after
 * every public core call (on its RETURN or ERROR trace event, which the core emits after the call
 * released its locks) unless {@link #checkEveryCall} is turned off; {@link #agree()} asserts that
 * no check failed and checks once more.
 */
final class VtdFixture {
    final VtdPlatform p;
    final PciDevice nic;
    final PciDevice disk;
    final PciDevice leg0;
    final PciDevice leg1;

    VtdFixture(VtdConfig cfg) {
        this(VtdPlatform.builder().unit(cfg));
    }

    VtdFixture(VtdConfig cfg, CoreConfig core) {
        this(VtdPlatform.builder().unit(cfg).coreConfig(core));
    }

    /** Violations found by the per-call checks, each prefixed with the core call it followed. */
    final List<String> violations = new CopyOnWriteArrayList<>();
    /** Check I7 after every core call (single-threaded tests whose core state describes every entry). */
    volatile boolean checkEveryCall = true;

    VtdFixture(VtdPlatform.Builder b) {
        p = b.build();
        p.core().addTraceListener(e -> {
            if (checkEveryCall && (e.kind() == TraceEvent.Kind.RETURN || e.kind() == TraceEvent.Kind.ERROR)) {
                for (String v : VtdHardwareAgreement.check(p)) {
                    // a device a failed attach left blocked is the kernel's state: the tests
                    // that fail an attach check that finding themselves
                    if (!v.contains(HardwareAgreement.LEFT_BLOCKED)) {
                        violations.add("after " + e.function() + ": " + v);
                    }
                }
            }
        });
        PciBus root = p.topology().rootBus(0, 0);
        nic = root.rootPort("rp0", 0x1c, 0, 1, Acs.ISOLATED).endpoint("nic", 0, 0, true, 20, true, Acs.NONE);
        disk = root.rootPort("rp1", 0x1d, 0, 2, Acs.ISOLATED).endpoint("disk", 0, 0, false, 0, false, Acs.NONE);
        PciBus legacyBus = root.pcieToPciBridge("p2p", 0x1e, 0, 3);
        leg0 = legacyBus.endpoint("leg0", 0, 0);
        leg1 = legacyBus.endpoint("leg1", 1, 0);
    }

    static VtdConfig config(boolean scalable, int width) {
        return scalable ? VtdConfig.scalable(width) : VtdConfig.legacy(width);
    }

    static VtdFixture of(boolean scalable, int width) {
        return new VtdFixture(config(scalable, width));
    }

    /**
     * A unit on which the driver builds second-stage paging domains in both modes: legacy, or
     * scalable without ECAP.FLTS, where intel_iommu_domain_alloc_paging_flags falls back to the
     * second stage. For tests about the second-stage entry, its faults and its page-selective
     * IOTLB invalidation; scalable units with FLTS get first-stage domains (VtdFirstStageTest).
     */
    static VtdConfig secondStageConfig(boolean scalable, int width) {
        return scalable ? VtdConfig.builder().scalableMode(true).addressWidth(width).firstLevel(false).build()
                : VtdConfig.legacy(width);
    }

    static VtdFixture secondStage(boolean scalable, int width) {
        return new VtdFixture(secondStageConfig(scalable, width));
    }

    IommuCore core() {
        return p.core();
    }

    VtdIommuDriver driver() {
        return p.driver();
    }

    VtdIommu unit() {
        return p.unit(0);
    }

    void hotplug(PciDevice... devs) {
        for (PciDevice d : devs) {
            p.hotplug(d);
            agree();
        }
    }

    /** The domain the device's group is attached to. */
    IommuDomain domain(PciDevice d) {
        return core().groupGet(d).domain();
    }

    /** DMA write of {@code data}; the physical address it landed at, or -(fault reason). */
    long write(PciDevice d, long iova, byte[] data) {
        return write(d, DmaTranslator.NO_PASID, iova, data);
    }

    long write(PciDevice d, int pasid, long iova, byte[] data) {
        DmaResult r = p.dma(d).write(pasid, iova, data, 0, data.length, new DmaResult());
        return r.ok() ? r.firstPa() : -r.faultCode();
    }

    /** DMA read of {@code len} bytes into a new array, or null on a fault (see {@link #lastReadFault}). */
    byte[] read(PciDevice d, long iova, int len) {
        byte[] buf = new byte[len];
        DmaResult r = p.dma(d).read(DmaTranslator.NO_PASID, iova, buf, 0, len, new DmaResult());
        lastReadFault = r.ok() ? 0 : r.faultCode();
        return r.ok() ? buf : null;
    }

    int lastReadFault;

    /** The last fault the unit saw (recorded or not). */
    FaultRecord lastFault() {
        List<FaultRecord> log = unit().unit().faultLog();
        return log.isEmpty() ? null : log.get(log.size() - 1);
    }

    /** The last fault the driver read from the fault recording registers. */
    DmarFault lastDriverFault() {
        List<DmarFault> f = unit().faults();
        return f.isEmpty() ? null : f.get(f.size() - 1);
    }

    /**
     * A PCIe endpoint alone behind its own ACS root port at {@code slot} of bus 0 (a singleton
     * group, secondary bus 0x10 + slot); created, not added.
     */
    PciDevice endpoint(String name, int slot, boolean ats, int pasidBits, boolean pri) {
        return p.topology().rootBus(0, 0).rootPort("rp-" + name, slot, 0, 0x10 + slot, Acs.ISOLATED)
                .endpoint(name, 0, 0, ats, pasidBits, pri, Acs.NONE);
    }

    /**
     * Two ATS + 20-bit PASID functions (00.0 and 00.1) of one card without ACS behind their own
     * ACS root port at {@code slot} (secondary bus 0x10 + slot): one group, one PASID table each.
     */
    PciDevice[] twoFunctions(int slot, boolean pri) {
        PciBus bus = p.topology().rootBus(0, 0).rootPort("rp-mf" + slot, slot, 0, 0x10 + slot, Acs.ISOLATED);
        return new PciDevice[] {bus.endpoint("fn0", 0, 0, true, 20, pri, Acs.NONE),
            bus.endpoint("fn1", 0, 1, true, 20, pri, Acs.NONE)};
    }

    /** A paging domain allocated for {@code dev} with one page {@code iova -> pa} mapped. */
    VtdDomain mappedDomain(PciDevice dev, long iova, long pa, int prot) {
        VtdDomain d = (VtdDomain) core().pagingDomainAlloc(dev);
        core().map(d, iova, pa, 0x1000, prot);
        return d;
    }

    /**
     * The address of the PASID-table entry of {@code pasid} of requester {@code sid}, walked from
     * RTADDR as the (scalable-mode) unit walks it; 0 where the root, context or directory entry is
     * not present.
     */
    long pasidEntryAddress(int sid, int pasid) {
        PhysicalMemory m = p.memory();
        long root = unit().unit().read64(VtdRegisters.RTADDR_REG) & ~0xFFFL;
        int devfn = sid & 0xFF;
        long re = m.readLong(root + (sid >>> 8) * 16L + (devfn > 127 ? 8 : 0));
        if ((re & 1) == 0) {
            return 0;
        }
        long ctx = m.readLong((re & ~0xFFFL) + (devfn & 0x7F) * 32L);
        if ((ctx & 1) == 0) {
            return 0;
        }
        long dir = m.readLong((ctx & ~0xFFFL) + 8L * (pasid >>> 6));
        return (dir & 1) == 0 ? 0 : (dir & ~0xFFFL) + 64L * (pasid & 0x3F);
    }

    /** Word 0 of that PASID entry (0 if there is none). */
    long pasidEntryWord0(int sid, int pasid) {
        long a = pasidEntryAddress(sid, pasid);
        return a == 0 ? 0 : p.memory().readLong(a);
    }

    /** The whole 512-bit PASID entry of {@code pasid} of {@code dev} (all zero if there is none). */
    PasidEntry pasidEntry(PciDevice dev, int pasid) {
        long a = pasidEntryAddress(dev.requesterId(), pasid);
        long[] w = new long[8];
        for (int i = 0; a != 0 && i < 8; i++) {
            w[i] = p.memory().readLong(a + 8L * i);
        }
        return PasidEntry.of(w);
    }

    /** Invariant I7: hardware and core agree. */
    /**
     * I7 found exactly {@code finding} (a disagreement the kernel itself produces, such as the
     * sibling behind a PCIe-to-PCI bridge that loses its shared alias in legacy mode): asserts it
     * was reported after the last calls and at this point, and forgets it.
     */
    void expectKernelFinding(String finding) {
        assertThat(violations).as("I7 reports the kernel's behaviour").isNotEmpty()
                .allMatch(v -> v.contains(finding));
        assertThat(VtdHardwareAgreement.check(p)).as("I7 now").isNotEmpty().allMatch(v -> v.contains(finding));
        violations.clear();
    }

    void agree() {
        assertThat(violations).as("hardware agreement (I7) after each core call").isEmpty();
        assertThat(VtdHardwareAgreement.check(p)).as("hardware agreement (I7)").isEmpty();
    }

    /**
     * I7 where a failed attach left exactly {@code blocked} blocked (the kernel's state): every
     * finding is {@link HardwareAgreement#LEFT_BLOCKED} on one of them, each of them has one,
     * and nothing else disagrees.
     */
    void agreeExceptLeftBlocked(PciDevice... blocked) {
        assertThat(violations).as("hardware agreement (I7) after each core call").isEmpty();
        List<String> found = VtdHardwareAgreement.check(p);
        for (PciDevice d : blocked) {
            assertThat(driver().programmedDomain(d)).as("%s left blocked", d).isNull();
            assertThat(found).as("I7 names %s", d).anyMatch(v -> v.contains(" " + d + " ")
                    && v.contains(HardwareAgreement.LEFT_BLOCKED));
        }
        assertThat(found).allSatisfy(v -> assertThat(v).contains(HardwareAgreement.LEFT_BLOCKED));
    }

    static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) (seed * 31 + i * 7 + 1);
        }
        return b;
    }
}
