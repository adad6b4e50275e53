package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.IopfRefs;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.hw.smmuv3.SmmuCommand;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SubstreamIDs on the SMMUv3 driver: set_dev_pasid, the 2019 aux path of seed 000 (S08), ATC ordering, S19. */
class Smmuv3PasidTest {
    private static final long PA = 0x4000_0000L;

    private static int ssv(long[] c) {
        return (c[0] & SmmuCommand.SSV) == 0 ? 0 : (int) (c[0] >>> SmmuCommand.SSID_SHIFT & 0xFFFFF);
    }

    private static int sid(long[] c) {
        return (int) (c[0] >>> SmmuCommand.SID_SHIFT);
    }

    @Test
    @DisplayName("set_dev_pasid: CD at the SSID with the domain's ASID; the STE keeps S1DSS = substream 0 under a"
            + " DMA domain; DMA with the PASID lands in the PASID's domain, without it in the RID's")
    void setDevPasid() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        IommuDomain rid = b.core.getDomainForDev(acc);
        IommuDomain d = b.core.pagingDomainAlloc(acc);
        b.core.map(d, 0x10_0000, PA, 0x1000, Prot.RW);
        b.core.attachDevicePasid(d, acc, 5);
        long[] cd = b.drv.cd(acc, 5);
        assertThat(ContextDescriptor.decode(cd, b.unit.features()).asid).isEqualTo(b.drv.asid(d));
        StreamTableEntry ste = StreamTableEntry.decode(b.drv.ste(b.sid(acc)), b.unit.features());
        assertThat(ste.s1CdMax).isEqualTo(20);
        assertThat(ste.s1Dss).isEqualTo(StreamTableEntry.S1DSS_SSID0);
        assertThat(b.read(acc, 5, 0x10_0040)).isEqualTo(PA + 0x40);
        assertThat(b.read(acc, -1, 0x10_0040)).isNegative(); // the DMA domain maps nothing there
        assertThat(b.drv.pasidDomains(acc)).containsEntry(5, d);
        assertThat(b.drv.ridDomain(acc)).isSameAs(rid);
        b.core.detachDevicePasid(d, acc, 5);
        assertThat(b.drv.cd(acc, 5)[0] & ContextDescriptor.V).isZero();
        assertThat(b.read(acc, 5, 0x10_0040)).isNegative();
    }

    @Test
    @DisplayName("a PASID on an identity RID: the STE becomes a CD table with S1DSS bypass (RID still 1:1), and back"
            + " to a plain bypass STE when the last PASID goes")
    void pasidOnIdentity() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        b.core.groupClaimDmaOwner(b.core.groupGet(acc), "vfio");
        b.core.attachGroup(b.drv.identityDomain(), b.core.groupGet(acc));
        IommuDomain d = b.core.pagingDomainAlloc(acc);
        b.core.map(d, 0x10_0000, PA, 0x1000, Prot.RW);
        b.core.attachDevicePasid(d, acc, 3);
        StreamTableEntry ste = StreamTableEntry.decode(b.drv.ste(b.sid(acc)), b.unit.features());
        assertThat(ste.config).isEqualTo(StreamTableEntry.Config.S1_TRANSLATE);
        assertThat(ste.s1Dss).isEqualTo(StreamTableEntry.S1DSS_BYPASS);
        assertThat(b.read(acc, -1, 0x77_7000)).isEqualTo(0x77_7000L);
        assertThat(b.read(acc, 3, 0x10_0000)).isEqualTo(PA);
        b.core.detachDevicePasid(d, acc, 3);
        ste = StreamTableEntry.decode(b.drv.ste(b.sid(acc)), b.unit.features());
        assertThat(ste.config).isEqualTo(StreamTableEntry.Config.BYPASS);
    }

    @Test
    @DisplayName("a stage-2 RID domain refuses PASIDs (-EINVAL); a stage-2 domain on a PASID is -EINVAL")
    void stage2RefusesPasids() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        b.core.groupClaimDmaOwner(b.core.groupGet(acc), "vfio");
        IommuDomain s1 = b.core.pagingDomainAlloc(acc);
        b.core.attachGroup(s1, b.core.groupGet(acc));
        Smmuv3Bed s2only = new Smmuv3Bed(Smmuv3Bed.features().withStages(false, true));
        PciDevice other = s2only.endpoint("other", true, 20, false);
        s2only.add(other);
        IommuDomain s2 = s2only.core.pagingDomainAlloc(other);
        IommuException e = catchThrowableOfType(() -> s2only.core.attachDevicePasid(s2, other, 2),
                IommuException.class);
        assertThat(e.errno()).isEqualTo(Errno.EINVAL);
    }

    @Test
    @DisplayName("S08 seed 000: aux attach installs the CD on both functions of the group; detach clears each CD"
            + " before invalidating that function's ATC for the SSID (the last one with every other ATS master of the"
            + " domain), no TLB command; the freed SSID then shows only the new aux domain")
    void s08AuxDetach() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice[] fn = b.twoFunctions();
        b.add(fn[0]);
        b.add(fn[1]);
        b.core.devEnableFeature(fn[0], DevFeature.AUX);
        IommuDomain aux1 = b.core.pagingDomainAlloc(fn[0]);
        b.core.map(aux1, 0x40000, 0x100_0000, 0x4000, Prot.RW);
        b.core.auxAttachDevice(aux1, fn[0]);
        int ssid = b.core.auxGetPasid(aux1, fn[0]);
        assertThat(b.write(fn[0], ssid, 0x40000)).isEqualTo(0x100_0000L);
        assertThat(b.write(fn[1], ssid, 0x41000)).isEqualTo(0x100_1000L);
        // Both ATCs now hold translations tagged with the SSID.
        assertThat(fn[0].atc().entries()).anySatisfy(e -> assertThat(e.pasid()).isEqualTo(ssid));
        assertThat(fn[1].atc().entries()).anySatisfy(e -> assertThat(e.pasid()).isEqualTo(ssid));
        b.clear();
        b.core.auxDetachDevice(aux1, fn[0]);
        List<long[]> cmds = new ArrayList<>(b.cmds);
        assertThat(b.opcodes()).doesNotContain(SmmuCommand.TLBI_NH_ASID, SmmuCommand.TLBI_NH_VA);
        for (PciDevice f : fn) {
            int s = b.sid(f);
            int cfgi = indexOf(cmds, c -> SmmuCommand.opcode(c[0]) == SmmuCommand.CFGI_CD && sid(c) == s
                    && ssv(c) == 0 && (int) (c[0] >>> SmmuCommand.SSID_SHIFT & 0xFFFFF) == ssid);
            int atc = indexOf(cmds, c -> SmmuCommand.opcode(c[0]) == SmmuCommand.ATC_INV && sid(c) == s
                    && ssv(c) == ssid);
            assertThat(cfgi).as("CFGI_CD of %s", f).isNotNegative();
            assertThat(atc).as("ATC_INV of %s after its CD's CFGI_CD", f).isGreaterThan(cfgi);
            assertThat(f.atc().entries()).noneSatisfy(e -> assertThat(e.pasid()).isEqualTo(ssid));
        }
        assertThat(b.read(fn[0], ssid, 0x40000)).isNegative();
        assertThat(b.read(fn[1], ssid, 0x41000)).isNegative();

        IommuDomain aux2 = b.core.pagingDomainAlloc(fn[0]);
        b.core.map(aux2, 0x40000, 0x200_0000, 0x4000, Prot.RW);
        b.core.auxAttachDevice(aux2, fn[0]);
        assertThat(b.core.auxGetPasid(aux2, fn[0])).isEqualTo(ssid);
        assertThat(b.read(fn[1], ssid, 0x41000)).isEqualTo(0x200_1000L);
        b.core.auxDetachDevice(aux2, fn[0]);
        b.core.domainFree(aux1);
        b.core.domainFree(aux2);
    }

    @Test
    @DisplayName("S08 with the teardown ATC_INV planted away: the leaving function keeps a stale ATC entry for the"
            + " SSID (the invalidation is what removes it)")
    void s08Planted() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        IommuDomain d = b.core.pagingDomainAlloc(acc);
        b.core.map(d, 0x40000, 0x100_0000, 0x1000, Prot.RW);
        b.core.attachDevicePasid(d, acc, 9);
        assertThat(b.read(acc, 9, 0x40000)).isEqualTo(0x100_0000L);
        b.drv.faults().skip(DriverFaults.Skip.TEARDOWN_DEVICE_TLB, 1);
        b.core.detachDevicePasid(d, acc, 9);
        assertThat(acc.atc().entries()).anySatisfy(e -> assertThat(e.pasid()).isEqualTo(9));
        assertThat(b.read(acc, 9, 0x40000)).isEqualTo(0x100_0000L); // served from the stale ATC
    }

    @Test
    @DisplayName("race 9: on unmap the ATC_INV is queued only after the TLBI's CMD_SYNC completed")
    void atcAfterTlbSync() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        IommuDomain d = b.core.pagingDomainAlloc(acc);
        b.core.map(d, 0x40000, 0x100_0000, 0x1000, Prot.RW);
        b.core.attachDevicePasid(d, acc, 4);
        assertThat(b.read(acc, 4, 0x40000)).isEqualTo(0x100_0000L);
        List<String> seen = new ArrayList<>();
        b.drv.tapCommands(c -> {
            int op = SmmuCommand.opcode(c[0]);
            if (op == SmmuCommand.ATC_INV) {
                // When the ATC_INV is written the TLB no longer holds the unmapped page.
                seen.add(b.unit.tlbEntries().stream().anyMatch(t -> t.iovaBase == 0x40000) ? "stale" : "clean");
            }
        });
        b.core.unmap(d, 0x40000, 0x1000);
        assertThat(seen).containsOnly("clean").isNotEmpty();
        assertThat(acc.atc().entries()).isEmpty();
    }

    @Test
    @DisplayName("race 9 with an ATS request between the batches: the kernel's order (TLBI + sync, then ATC_INV)"
            + " leaves no translation; the planted ATC_INV first lets the request refill the stale one from the TLB")
    void atsRequestBetweenBatches() {
        assertThat(unmapWithRequestInGap(false)).isNegative();
        assertThat(unmapWithRequestInGap(true)).isEqualTo(0x100_0000L);
    }

    /** The DMA after an unmap during which the device sent a translation request between the batches. */
    private static long unmapWithRequestInGap(boolean plant) {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        IommuDomain d = b.core.pagingDomainAlloc(acc);
        b.core.map(d, 0x40000, 0x100_0000, 0x1000, Prot.RW);
        b.core.attachDevicePasid(d, acc, 4);
        assertThat(b.read(acc, 4, 0x40000)).isEqualTo(0x100_0000L); // TLB and ATC filled
        b.drv.faults().devTlbBeforeIotlbSync(plant);
        List<Integer> requests = new ArrayList<>();
        b.drv.flush().gap((dev, ssid, iova) -> {
            requests.add(ssid);
            b.read(dev, ssid, iova);
        });
        b.core.unmap(d, 0x40000, 0x1000);
        assertThat(requests).containsExactly(4);
        return b.read(acc, 4, 0x40000);
    }

    @Test
    @DisplayName("S19: the IOPF refcount is 0 on identity / blocked with no PASIDs (SMMUv3 IOPF needs a stalling"
            + " master; this SMMU has none, so IOPF is not offered)")
    void s19() {
        Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());
        PciDevice acc = b.endpoint("acc", true, 20, true);
        b.add(acc);
        assertThat(b.core.devHasFeature(acc, DevFeature.IOPF)).isFalse();
        assertThat(b.core.devHasFeature(acc, DevFeature.AUX)).isTrue();
        b.core.groupClaimDmaOwner(b.core.groupGet(acc), "vfio");
        b.core.attachGroup(b.drv.identityDomain(), b.core.groupGet(acc));
        assertThat(b.drv.iopfRefcount(acc)).isZero();
        List<String> warned = new ArrayList<>();
        IopfRefs.checkIdle(b.drv.master(acc), (where, msg) -> warned.add(msg), "test");
        assertThat(warned).isEmpty();
    }

    private static int indexOf(List<long[]> cmds, java.util.function.Predicate<long[]> p) {
        for (int i = 0; i < cmds.size(); i++) {
            if (p.test(cmds.get(i))) {
                return i;
            }
        }
        return -1;
    }
}
