package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.SmmuEvent;
import org.jiommu.hw.smmuv3.SmmuFeatures;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The SMMUv3 driver through the core: probe, masters, ASIDs / VMIDs, paging / identity / blocked / release. */
class Smmuv3DriverTest {
    private static final long PA = 0x4000_0000L;

    private static StreamTableEntry decode(Smmuv3Bed b, int sid) {
        return StreamTableEntry.decode(b.drv.ste(sid), b.unit.features());
    }

    /** A new UNMANAGED domain on {@code dev}'s group (claimed for vfio), {@code iova -> PA} mapped. */
    private static IommuDomain own(Smmuv3Bed b, PciDevice dev, long iova) {
        b.core.groupClaimDmaOwner(b.core.groupGet(dev), "vfio");
        IommuDomain d = b.core.pagingDomainAlloc(dev);
        b.core.attachGroup(d, b.core.groupGet(dev));
        b.core.map(d, iova, PA, 0x2000, Prot.RW);
        return d;
    }

    @Test
    @DisplayName("probe: queues and 2-level stream table programmed, CR0ACK = SMMUEN|CMDQEN|EVTQEN|PRIQEN|ATSCHK,"
            + " CFGI_ALL and TLBI_NSNH_ALL issued at reset")
    void probe() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        assertThat(b.unit.readRegister32(CR0ACK)).isEqualTo(CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN | CR0_PRIQEN
                | CR0_ATSCHK);
        int cfg = b.unit.readRegister32(STRTAB_BASE_CFG);
        assertThat(cfg >>> STRTAB_CFG_FMT_SHIFT & 3).isEqualTo(STRTAB_CFG_FMT_2LVL);
        assertThat(cfg >>> STRTAB_CFG_SPLIT_SHIFT & 0x1f).isEqualTo(8);
        assertThat(cfg & 0x3f).isEqualTo(16);
        assertThat(b.unit.readRegister64(CMDQ_BASE) & Q_BASE_LOG2SIZE_MASK).isEqualTo(8);
        assertThat(b.unit.readRegister32(CMDQ_CONS)).isEqualTo(b.unit.readRegister32(CMDQ_PROD));
        Smmuv3Bed lin = new Smmuv3Bed(new SmmuFeatures(true, true, true, true, true, false, true, true, true, 12, 20,
                48, 1 << 12, 8));
        assertThat(lin.unit.readRegister32(STRTAB_BASE_CFG)).isEqualTo(12);
        // An unprobed stream id of a linear table: the initial abort STE.
        assertThat(decode(lin, 0x7).config).isEqualTo(StreamTableEntry.Config.ABORT);
    }

    @Test
    @DisplayName("a DMA domain is stage 1: CD 0 with ASID 1, 48-bit input, 4K granule, the SMMU's output size, WB"
            + " inner-shareable walks; a CD-table STE with S1DSS = substream 0 and EATS for an ATS function")
    void stage1Default() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice nic = b.endpoint("nic", true, 0, false);
        b.add(nic);
        IommuDomain dflt = b.core.getDomainForDev(nic);
        assertThat(dflt.type()).isIn(DomainType.DMA, DomainType.DMA_FQ);
        assertThat(b.drv.asid(dflt)).isEqualTo(1);
        StreamTableEntry ste = decode(b, b.sid(nic));
        assertThat(ste.config).isEqualTo(StreamTableEntry.Config.S1_TRANSLATE);
        // S1DSS (ignored by the SMMU with a single CD) is written as substream 0.
        assertThat(b.drv.ste(b.sid(nic))[1] & 3).isEqualTo(StreamTableEntry.S1DSS_SSID0);
        assertThat(ste.eats).isEqualTo(StreamTableEntry.EATS_TRANS);
        assertThat(b.drv.atsEnabled(nic)).isTrue();
        long[] cd = b.drv.cd(nic, 0);
        ContextDescriptor c = ContextDescriptor.decode(cd, b.unit.features());
        assertThat(c.illegal).isNull();
        assertThat(c.asid).isEqualTo(1);
        assertThat(cd[0] & 0x3f).isEqualTo(16); // T0SZ: 48-bit input
        assertThat(cd[0] >>> ContextDescriptor.TG0_SHIFT & 3).isZero(); // 4K
        assertThat(cd[0] >>> ContextDescriptor.IPS_SHIFT & 7).isEqualTo(5); // 48-bit output
        assertThat(cd[0] >>> 8 & 0x3f).isEqualTo(0b11_01_01); // SH0 inner shareable, ORGN0/IRGN0 WBWA
        assertThat(cd[0] & ContextDescriptor.EPD1).isNotZero();
    }

    @Test
    @DisplayName("DMA lands where mapped through stage 1; unmap issues one range TLBI_NH_VA (leaf, TTL 3) + CMD_SYNC"
            + " and the ATC_INV after it; map issues no command; the old IOVA then faults F_TRANSLATION")
    void mapUnmapCommands() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice nic = b.endpoint("nic", true, 0, false);
        b.add(nic);
        IommuDomain d = own(b, nic, 0x10_0000);
        b.clear();
        b.core.map(d, 0x20_0000, PA + 0x10000, 0x1000, Prot.RW);
        assertThat(b.opcodes()).isEmpty();
        assertThat(b.write(nic, -1, 0x10_1008)).isEqualTo(PA + 0x1008);
        b.core.unmap(d, 0x10_0000, 0x2000);
        assertThat(b.opcodes()).containsExactly(SmmuCommand.TLBI_NH_VA, SmmuCommand.SYNC, SmmuCommand.ATC_INV,
                SmmuCommand.SYNC);
        long[] tlbi = b.commands(SmmuCommand.TLBI_NH_VA).get(0);
        assertThat(tlbi[1] & SmmuCommand.LEAF).isEqualTo(1);
        assertThat(tlbi[1] >>> SmmuCommand.TLBI_TTL_SHIFT & 3).isEqualTo(3);
        assertThat(tlbi[0] >>> SmmuCommand.ASID_SHIFT & 0xffff).isEqualTo(b.drv.asid(d));
        // Two pages: one chunk of 2^1 pages (SCALE 1, NUM 0), TG 4K.
        assertThat(tlbi[0] >>> SmmuCommand.TLBI_SCALE_SHIFT & 0x1f).isEqualTo(1);
        assertThat(tlbi[0] >>> SmmuCommand.TLBI_NUM_SHIFT & 0x1f).isZero();
        assertThat(tlbi[1] >>> SmmuCommand.TLBI_TG_SHIFT & 3).isEqualTo(1);
        assertThat(b.write(nic, -1, 0x10_1008)).isEqualTo(-SmmuEvent.F_TRANSLATION - 1L);
        b.clear();
        d.ops().flushIotlbAll().flushIotlbAll(d);
        assertThat(b.opcodes()).containsExactly(SmmuCommand.TLBI_NH_ASID, SmmuCommand.SYNC, SmmuCommand.ATC_INV,
                SmmuCommand.SYNC);
    }

    @Test
    @DisplayName("ASIDs from 1 in domain-creation order, a freed ASID reused by the next domain")
    void asidAllocation() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice nic = b.endpoint("nic", false, 0, false);
        b.add(nic);
        IommuDomain a = b.core.pagingDomainAlloc(nic);
        IommuDomain c = b.core.pagingDomainAlloc(nic);
        assertThat(List.of(b.drv.asid(b.core.getDomainForDev(nic)), b.drv.asid(a), b.drv.asid(c)))
                .containsExactly(1, 2, 3);
        b.core.domainFree(a);
        assertThat(b.drv.asidsInUse().get(2)).isFalse();
        IommuDomain e = b.core.pagingDomainAlloc(nic);
        assertThat(b.drv.asid(e)).isEqualTo(2);
    }

    @Test
    @DisplayName("an SMMU with stage 2 only: paging domains are stage 2 with VMIDs from 1; the STE holds VTCR and"
            + " the table; DMA lands through it; unmap issues TLBI_S2_IPA")
    void stage2Only() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features().withStages(false, true));
        PciDevice nic = b.endpoint("nic", false, 0, false);
        b.add(nic);
        IommuDomain dflt = b.core.getDomainForDev(nic);
        assertThat(b.drv.stage2(dflt)).isTrue();
        assertThat(b.drv.vmid(dflt)).isEqualTo(1);
        StreamTableEntry ste = decode(b, b.sid(nic));
        assertThat(ste.config).isEqualTo(StreamTableEntry.Config.S2_TRANSLATE);
        assertThat(ste.vmid).isEqualTo(1);
        IommuDomain d = own(b, nic, 0x10_0000);
        assertThat(b.drv.vmid(d)).isEqualTo(2);
        assertThat(b.read(nic, -1, 0x10_0010)).isEqualTo(PA + 0x10);
        b.clear();
        b.core.unmap(d, 0x10_0000, 0x1000);
        assertThat(b.opcodes()).containsExactly(SmmuCommand.TLBI_S2_IPA, SmmuCommand.SYNC);
        assertThat(b.read(nic, -1, 0x10_0010)).isNegative();
    }

    @Test
    @DisplayName("identity: a bypass STE, no CD, DMA 1:1 and no TLB invalidation; blocked: an abort STE, DMA"
            + " terminated without an event")
    void identityAndBlocked() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice nic = b.endpoint("nic", true, 0, false);
        b.add(nic);
        b.core.groupClaimDmaOwner(b.core.groupGet(nic), "vfio");
        assertThat(decode(b, b.sid(nic)).config).isEqualTo(StreamTableEntry.Config.ABORT);
        assertThat(b.read(nic, -1, 0x1000)).isNegative();
        b.clear();
        b.core.attachGroup(b.drv.identityDomain(), b.core.groupGet(nic));
        assertThat(decode(b, b.sid(nic)).config).isEqualTo(StreamTableEntry.Config.BYPASS);
        assertThat(b.opcodes()).doesNotContain(SmmuCommand.TLBI_NH_ASID, SmmuCommand.TLBI_NH_VA);
        assertThat(b.drv.atsEnabled(nic)).isFalse();
        assertThat(b.read(nic, -1, 0x123_4560)).isEqualTo(0x123_4560L);
    }

    @Test
    @DisplayName("S17 S18 release: a plain device is parked on an abort STE, an RMR device on bypass so its direct"
            + " range keeps working; its default domain held the RMR 1:1 from probe on")
    void releaseDomain() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice nic = b.endpoint("nic", false, 0, false);
        PciDevice rmr = b.endpoint("rmr0", false, 0, false);
        b.add(nic);
        b.add(rmr, ResvRegion.direct(0xe000_0000L, 0x10_0000));
        assertThat(b.core.iovaToPhys(b.core.getDomainForDev(rmr), 0xe000_0040L)).isEqualTo(0xe000_0040L);
        assertThat(b.read(rmr, -1, 0xe000_0040L)).isEqualTo(0xe000_0040L);
        int nicSid = b.sid(nic);
        int rmrSid = b.sid(rmr);
        b.core.deviceDel(nic);
        b.core.deviceDel(rmr);
        assertThat(decode(b, nicSid).config).isEqualTo(StreamTableEntry.Config.ABORT);
        assertThat(decode(b, rmrSid).config).isEqualTo(StreamTableEntry.Config.BYPASS);
        assertThat(b.read(rmr, -1, 0xe000_0040L)).isEqualTo(0xe000_0040L);
        assertThat(b.read(nic, -1, 0x1000)).isNegative();
    }

    @Test
    @DisplayName("a stream id already in the stream tree: probe fails (-EINVAL, 'already in tree'), nothing kept")
    void duplicateStream() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice nic = b.endpoint("nic", false, 0, false);
        b.add(nic);
        org.jiommu.bus.PlatformDevice twin = new org.jiommu.bus.PlatformDevice("twin", List.of(b.sid(nic), 0x99), 0);
        b.p.describe(twin, "smmu0");
        IommuException e = catchThrowableOfType(() -> b.units.enumerate(new org.jiommu.platform.IommuUnits.Firmware(
                twin, "smmu0", twin.streamIds(), List.of(), false), true), IommuException.class);
        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
        assertThat(b.core.warnings()).anySatisfy(w -> assertThat(w.toString()).contains("already in tree"));
        assertThat(b.drv.streamIds(twin)).isEmpty();
        assertThat(b.drv.masters()).containsExactly(nic);
    }
}
