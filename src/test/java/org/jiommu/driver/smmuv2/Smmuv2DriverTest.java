package org.jiommu.driver.smmuv2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.dma.TranslationResult;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuCap;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.hw.smmuv2.Smmuv2Config;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class Smmuv2DriverTest {
    private static final long K4 = 4096;
    private final PhysicalMemory mem = new PhysicalMemory(1L << 32);
    private final FrameAllocator frames = new FrameAllocator(mem);
    private final IommuCore core = new IommuCore(CoreConfig.defaults());
    private final Smmuv2Unit unit = new Smmuv2Unit("smmu0", mem, Smmuv2Config.defaults().withNumCb(2));
    private final Smmuv2Driver drv = new Smmuv2Driver("smmu0", unit, core.services(), frames, new DriverFaults());
    private final TranslationResult out = new TranslationResult();

    Smmuv2DriverTest() {
        core.iommuDeviceRegister(drv.iommu());
    }

    private PlatformDevice add(String name, int... sids) {
        List<Integer> ids = java.util.Arrays.stream(sids).boxed().toList();
        PlatformDevice d = new PlatformDevice(name, ids, 0);
        core.fwspecInit(d, drv.iommu(), ids); // the DT "iommus" stream ids
        core.deviceAdd(d);
        return d;
    }

    /** A new paging domain attached to {@code dev}. */
    private IommuDomain attachNewDomain(PlatformDevice dev) {
        IommuDomain d = core.pagingDomainAlloc(dev);
        core.attachDevice(d, dev);
        return d;
    }

    private boolean dma(int sid, long iova, boolean write) {
        return unit.translate(sid, -1, iova, write, false, out);
    }

    @Test
    @DisplayName("reset: client port enabled, unmatched streams fault; probe gives each stream id a valid SMR")
    void resetAndProbe() {
        assertThat(unit.readl(SCR0) & (SCR0_CLIENTPD | SCR0_USFCFG)).isEqualTo(SCR0_USFCFG);
        assertThat(dma(0x77, 0x1000, false)).isFalse();
        assertThat(unit.readl(SGFSR)).isEqualTo(SGFSR_USF);
        PlatformDevice a = add("a", 0x10, 0x11);
        int[] smes = drv.streamMapEntries(a);
        assertThat(smes).containsExactly(0, 1);
        assertThat(unit.readl(SMR_BASE)).isEqualTo(smr(0x10, 0, true));
        assertThat(unit.readl(SMR_BASE + 4)).isEqualTo(smr(0x11, 0, true));
        // The default DMA domain is a paging domain: its bank translates both streams.
        IommuDomain dflt = core.getDomainForDev(a);
        assertThat(dflt.type()).isIn(DomainType.DMA, DomainType.DMA_FQ);
        int cb = drv.contextBank(dflt);
        assertThat(cb).isZero();
        assertThat(unit.readl(S2CR_BASE)).isEqualTo(s2cr(S2CR_TYPE_TRANS, cb));
        assertThat(unit.readl(S2CR_BASE + 4)).isEqualTo(s2cr(S2CR_TYPE_TRANS, cb));
        assertThat(unit.readl(unit.cbOffset(cb) + CB_SCTLR)).isEqualTo(0x1067);
        assertThat(unit.readl(unit.gr1Offset() + CBAR_BASE)).isEqualTo(0x1_f300); // TYPE S1+S2 bypass, MEMATTR WB, BPSHCFG NSH
        assertThat(unit.readl(unit.cbOffset(cb) + CB_TCR2)).isEqualTo(0x0003_8015);
        assertThat(unit.readl(unit.cbOffset(cb) + CB_TCR)).isEqualTo(0x0080_3510);
        assertThat(core.deviceIommuCapable(a, IommuCap.DEFERRED_FLUSH)).isTrue();
        assertThat(core.deviceIommuCapable(a, IommuCap.DIRTY_TRACKING)).isFalse();
    }

    @Test
    @DisplayName("map: DMA lands through the bank; unmap issues TLBIVAL + TLBSYNC so the old translation is gone")
    void mapUnmap() {
        PlatformDevice a = add("a", 0x10);
        IommuDomain d = attachNewDomain(a);
        core.map(d, 0x10_0000, 0x4000_0000L, 2 * K4, Prot.RW);
        assertThat(dma(0x10, 0x10_1008, true)).isTrue();
        assertThat(out.pa).isEqualTo(0x4000_1008L);
        assertThat(core.iovaToPhys(d, 0x10_1008)).isEqualTo(0x4000_1008L);
        assertThat(core.unmap(d, 0x10_0000, 2 * K4)).isEqualTo(2 * K4);
        assertThat(dma(0x10, 0x10_1008, true)).isFalse();
        assertThat(out.faultCode).isEqualTo(FSR_TF);
        int cb = drv.contextBank(d);
        assertThat(unit.readq(unit.cbOffset(cb) + CB_FAR)).isEqualTo(0x10_1008);
        assertThat(unit.readl(unit.cbOffset(cb) + CB_FSYNR0)).isEqualTo(3 | FSYNR0_WNR);
        assertThat(unit.readl(unit.gr1Offset() + CBFRSYNRA_BASE + 4 * cb)).isEqualTo(0x10);
    }

    @Test
    @DisplayName("a planted missing TLBIVAL leaves the stale translation; flush_iotlb_all's TLBIASID removes it")
    void plantedSkip() {
        PlatformDevice a = add("a", 0x10);
        IommuDomain d = attachNewDomain(a);
        core.map(d, 0x10_0000, 0x4000_0000L, K4, Prot.RW);
        assertThat(dma(0x10, 0x10_0000, false)).isTrue();
        drv.faults().skip(DriverFaults.Skip.IOTLB, 1);
        core.unmap(d, 0x10_0000, K4);
        assertThat(dma(0x10, 0x10_0000, false)).isTrue();
        assertThat(out.pa).isEqualTo(0x4000_0000L);
        d.ops().flushIotlbAll().flushIotlbAll(d);
        assertThat(dma(0x10, 0x10_0000, false)).isFalse();
    }

    @Test
    @DisplayName("identity bypasses, blocked faults; banks are released with their domain and -ENOSPC when all are used")
    void identityBlockedAndBanks() {
        PlatformDevice a = add("a", 0x10);
        PlatformDevice b = add("b", 0x20);
        // Two banks: a's and b's default domains hold them; a third domain cannot get one, so
        // c's probe fails on its default domain and its stream-map entry is given back.
        assertThat(drv.contextBanksInUse()).isEqualTo(2);
        PlatformDevice c = new PlatformDevice("c", List.of(0x30), 0);
        core.fwspecInit(c, drv.iommu(), List.of(0x30));
        IommuException full = catchThrowableOfType(() -> core.deviceAdd(c), IommuException.class);
        assertThat(full.errno()).isEqualTo(Errno.ENOSPC);
        assertThat(drv.attachedDomains()).doesNotContainKey(c);
        assertThat(drv.streamMapEntries(c)).isEmpty();
        assertThat(unit.readl(SMR_BASE + 8) & SMR_VALID).isZero();
        IommuDomain extra = core.pagingDomainAlloc(a);
        IommuDomain before = core.getDomainForDev(a);
        IommuException e = catchThrowableOfType(() -> core.attachDevice(extra, a), IommuException.class);
        assertThat(e.errno()).isEqualTo(Errno.ENOSPC);
        assertThat(core.getDomainForDev(a)).isSameAs(before);
        assertThat(unit.readl(S2CR_BASE)).isEqualTo(s2cr(S2CR_TYPE_TRANS, drv.contextBank(before)));
        core.domainFree(extra);
        // The static domains program the S2CR alone: identity bypasses, blocked faults.
        int[] bs = drv.streamMapEntries(b);
        assertThat(drv.ops().identityDomain()).isSameAs(drv.identityDomain());
        assertThat(drv.ops().blockedDomain()).isSameAs(drv.blockedDomain());
        IommuDomain bDefault = core.getDomainForDev(b);
        assertThat(bDefault.ops().attachDev().attachDev(drv.identityDomain(), b, bDefault)).isZero();
        assertThat(unit.readl(S2CR_BASE + 4 * bs[0])).isEqualTo(s2cr(S2CR_TYPE_BYPASS, 0));
        assertThat(dma(0x20, 0x5000, true)).isTrue();
        assertThat(out.pa).isEqualTo(0x5000);
        assertThat(drv.blockedDomain().ops().attachDev().attachDev(drv.blockedDomain(), b, drv.identityDomain()))
                .isZero();
        assertThat(unit.readl(S2CR_BASE + 4 * bs[0])).isEqualTo(s2cr(S2CR_TYPE_FAULT, 0));
        assertThat(dma(0x20, 0x5000, true)).isFalse();
    }

    @Test
    @DisplayName("release: the master's SMR is invalidated and its stream faults as unidentified")
    void release() {
        PlatformDevice a = add("a", 0x10);
        core.deviceDel(a);
        assertThat(unit.readl(SMR_BASE) & SMR_VALID).isZero();
        assertThat(dma(0x10, 0x1000, false)).isFalse();
        assertThat(out.faultCode).isEqualTo(SGFSR_USF);
    }

    @Test
    @DisplayName("freeing a domain disables its bank, flushes its ASID and returns the bank for reuse")
    void freeReleasesBank() {
        PlatformDevice a = add("a", 0x10);
        IommuDomain dflt = core.getDomainForDev(a);
        int dcb = drv.contextBank(dflt);
        IommuDomain d = attachNewDomain(a);
        int cb = drv.contextBank(d);
        assertThat(cb).isNotEqualTo(dcb);
        core.map(d, 0, 0x4000_0000L, K4, Prot.RW);
        assertThat(dma(0x10, 0, false)).isTrue();
        core.detachDevice(d, a);
        assertThat(unit.readl(S2CR_BASE)).isEqualTo(s2cr(S2CR_TYPE_TRANS, dcb));
        core.domainFree(d);
        assertThat(unit.readl(unit.cbOffset(cb) + CB_SCTLR)).isZero();
        assertThat(drv.contextBanksInUse()).isEqualTo(1);
        IommuDomain again = attachNewDomain(a);
        assertThat(drv.contextBank(again)).isEqualTo(cb);
        // The new domain maps nothing at 0: the freed domain's entry did not survive (TLBIASID on free).
        assertThat(dma(0x10, 0, false)).isFalse();
    }
}
