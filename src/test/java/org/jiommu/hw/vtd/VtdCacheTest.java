package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdRegisters.*;
import static org.jiommu.hw.vtd.VtdTestEncoder.*;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.jiommu.bus.dma.DmaTranslator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Every cache keeps serving what it cached after the tables change in memory, until exactly
 * the matching invalidation runs; invalidations for another domain, device, PASID or page
 * leave it alone. Also the queue itself: device-TLB forwarding, waits, errors.
 */
class VtdCacheTest {
    private static final int SID = 0x0418;
    private static final int NP = DmaTranslator.NO_PASID;
    private static final int DID = 0x2A;

    @Test
    @DisplayName("IOTLB: a cleared PTE still translates until the page-selective IOTLB invalidation for its DID and page")
    void iotlbPageSelective() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        long pte = t.map(0x6000, 0x7000_6000L, 12, true, true);
        bed.setLegacyContext(SID, legacyContext(t.root, 0, 2, DID, false));
        assertThat(bed.pa(SID, 0x6010, false)).isEqualTo(0x7000_6010L);
        bed.mem.writeLong(pte, 0);
        assertThat(bed.pa(SID, 0x6010, false)).as("stale, from the IOTLB").isEqualTo(0x7000_6010L);
        bed.submit(iotlbPage(DID + 1, 0x6000, 0, false, false, false));
        assertThat(bed.pa(SID, 0x6010, true)).as("other DID").isEqualTo(0x7000_6010L);
        bed.submit(iotlbPage(DID, 0x7000, 0, false, false, false));
        assertThat(bed.pa(SID, 0x6010, true)).as("other page").isEqualTo(0x7000_6010L);
        bed.submit(iotlbPage(DID, 0x8000, 1, false, false, false));
        assertThat(bed.pa(SID, 0x6010, true)).as("8 KiB at 0x8000 does not cover 0x6000").isEqualTo(0x7000_6010L);
        bed.submit(iotlbDomain(DID + 1), ccDomain(DID + 1));
        assertThat(bed.pa(SID, 0x6010, true)).as("domain-selective, other DID").isEqualTo(0x7000_6010L);
        bed.submit(iotlbPage(DID, 0x5000, 2, true, false, false)); // 16 KiB, aligned down to 0x4000: covers 0x6000
        assertThat(bed.pa(SID, 0x6010, true)).isEqualTo(-FaultReason.WRITE);
        assertThat(bed.unit.stats().get("inv.iotlb.page")).isEqualTo(4);
    }

    @Test
    @DisplayName("IOTLB: domain-selective and global invalidation; a 4 KiB PSI inside a 2 MiB entry drops it")
    void iotlbDomainGlobalSuperpage() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t = bed.new SlTable(4);
        long big = t.map(0x20_0000L, 0x4020_0000L, 21, true, true);
        long small = t.map(0x1000, 0x5000_1000L, 12, true, true);
        bed.setLegacyContext(SID, legacyContext(t.root, 0, 2, DID, false));
        assertThat(bed.pa(SID, 0x2F_0000L, false)).isEqualTo(0x402F_0000L);
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x5000_1000L);
        bed.mem.writeLong(big, 0);
        bed.mem.writeLong(small, 0);
        bed.submit(iotlbPage(DID, 0x3F_F000L, 0, false, false, false));
        assertThat(bed.pa(SID, 0x2F_0000L, false)).isEqualTo(-FaultReason.READ);
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x5000_1000L);
        bed.submit(iotlbDomain(DID));
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(-FaultReason.READ);
        t.map(0x1000, 0x5000_1000L, 12, true, true);
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x5000_1000L);
        bed.mem.writeLong(small, 0);
        bed.submit(iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(-FaultReason.READ);
    }

    @Test
    @DisplayName("context cache: a rewritten context entry keeps its old table and DID until the matching "
            + "context-cache invalidation (device with FM, or domain)")
    void contextCacheStaleness() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        VtdTestBed.SlTable t1 = bed.new SlTable(4);
        VtdTestBed.SlTable t2 = bed.new SlTable(4);
        t1.map(0x1000, 0xA000_1000L, 12, true, true);
        t2.map(0x1000, 0xB000_1000L, 12, true, true);
        bed.setLegacyContext(SID, legacyContext(t1.root, 0, 2, DID, false));
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0xA000_1000L);
        bed.setLegacyContext(SID, legacyContext(t2.root, 0, 2, DID + 1, false));
        bed.submit(iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).as("stale context entry").isEqualTo(0xA000_1000L);
        bed.submit(ccDevice(SID + 8, DID, 0), ccDomain(DID + 1), iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).as("other device, other domain").isEqualTo(0xA000_1000L);
        bed.submit(ccDevice(SID | 0x3, DID, 2), iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).as("FM 2 masks function bits 2:1 only").isEqualTo(0xA000_1000L);
        bed.submit(ccDevice(SID | 0x7, DID, 3));
        assertThat(bed.pa(SID, 0x1000, false)).as("FM 3: whole device").isEqualTo(0xB000_1000L);

        bed.setLegacyContext(SID, new long[] {0, 0});
        bed.submit(iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).as("cleared but cached").isEqualTo(0xB000_1000L);
        bed.submit(ccDomain(DID + 1), iotlbGlobal());
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
        assertThat(bed.unit.stats().get("inv.context-cache.device")).isEqualTo(3);
    }

    @Test
    @DisplayName("PASID cache: a rewritten PASID entry stays in use until a PASID-cache invalidation for its DID "
            + "and PASID (or all PASIDs of the DID, or global)")
    void pasidCacheStaleness() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.SlTable t1 = bed.new SlTable(4);
        VtdTestBed.SlTable t2 = bed.new SlTable(4);
        t1.map(0x1000, 0xA000_1000L, 12, true, true);
        t2.map(0x1000, 0xB000_1000L, 12, true, true);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0x20, pasidEntrySecondLevel(t1.root, 2, DID, false));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.pa(SID, 0x20, 0x1000, false)).isEqualTo(0xA000_1000L);
        bed.setPasidEntry(dir, 0x20, pasidEntrySecondLevel(t2.root, 2, DID, false));
        bed.submit(piotlbPasid(DID, 0x20));
        assertThat(bed.pa(SID, 0x20, 0x1000, false)).as("stale PASID entry").isEqualTo(0xA000_1000L);
        bed.submit(pasidCache(1, DID, 0x21), pasidCache(1, DID + 1, 0x20), pasidCache(0, DID + 1, 0),
                ccGlobal(), piotlbPasid(DID, 0x20));
        assertThat(bed.pa(SID, 0x20, 0x1000, false)).as("other PASID, other DID, context cache")
                .isEqualTo(0xA000_1000L);
        bed.submit(pasidCache(1, DID, 0x20), piotlbPasid(DID, 0x20));
        assertThat(bed.pa(SID, 0x20, 0x1000, false)).isEqualTo(0xB000_1000L);

        // Pass-through torn down to not-present: still pass-through until the PASID cache hears of it.
        bed.setPasidEntry(dir, 0x30, pasidEntryPassThrough(2, 1));
        assertThat(bed.pa(SID, 0x30, 0x5000, true)).isEqualTo(0x5000);
        bed.mem.writeLong(bed.pasidEntryAddress(dir, 0x30), 0);
        assertThat(bed.pa(SID, 0x30, 0x5000, true)).isEqualTo(0x5000);
        bed.submit(pasidCache(0, 1, 0));
        assertThat(bed.pa(SID, 0x30, 0x5000, true)).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
        bed.setPasidEntry(dir, 0x30, pasidEntryPassThrough(2, 1));
        assertThat(bed.pa(SID, 0x30, 0x5000, true)).isEqualTo(0x5000);
        bed.mem.writeLong(bed.pasidEntryAddress(dir, 0x30), 0);
        bed.submit(pasidCache(3, 0, 0));
        assertThat(bed.pa(SID, 0x30, 0x5000, true)).isEqualTo(-FaultReason.PASID_ENTRY_NOT_PRESENT);
    }

    @Test
    @DisplayName("PASID-based IOTLB: page-selective drops first-stage pages of that DID and PASID only; "
            + "type-2 PSI drops every first-stage entry of the DID; all-in-PASID drops second-stage ones too")
    void pasidIotlb() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable fl = bed.new FlTable(4);
        VtdTestBed.SlTable sl = bed.new SlTable(4);
        long flPte = fl.map(0x40000, 0x6004_0000L, 12, true);
        long flPte2 = fl.map(0x900000, 0x6090_0000L, 12, true);
        long slPte = sl.map(0x40000, 0x7004_0000L, 12, true, true);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0x10, pasidEntryFirstLevel(fl.root, 2, DID, false));
        bed.setPasidEntry(dir, 0x11, pasidEntryFirstLevel(fl.root, 2, DID, false));
        bed.setPasidEntry(dir, 0x12, pasidEntrySecondLevel(sl.root, 2, DID, false));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        for (int pasid = 0x10; pasid <= 0x11; pasid++) {
            assertThat(bed.pa(SID, pasid, 0x40000, true)).isEqualTo(0x6004_0000L);
            assertThat(bed.pa(SID, pasid, 0x900000, true)).isEqualTo(0x6090_0000L);
        }
        assertThat(bed.pa(SID, 0x12, 0x40000, true)).isEqualTo(0x7004_0000L);
        bed.mem.writeLong(flPte, 0);
        bed.mem.writeLong(flPte2, 0);
        bed.mem.writeLong(slPte, 0);
        bed.submit(piotlbPages(DID, 0x10, 0x40000, 3, false), piotlbPages(DID, 0x12, 0x40000, 1, false));
        assertThat(bed.pa(SID, 0x10, 0x40000, false)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        assertThat(bed.pa(SID, 0x10, 0x900000, false)).as("other page").isEqualTo(0x6090_0000L);
        assertThat(bed.pa(SID, 0x11, 0x40000, false)).as("other PASID").isEqualTo(0x6004_0000L);
        assertThat(bed.pa(SID, 0x12, 0x40000, false)).as("second-stage entry").isEqualTo(0x7004_0000L);
        bed.submit(iotlbPage(DID, 0x0, 0, false, false, false));
        assertThat(bed.pa(SID, 0x11, 0x40000, false)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        assertThat(bed.pa(SID, 0x10, 0x900000, false)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
        assertThat(bed.pa(SID, 0x12, 0x40000, false)).as("SL page 0x40000 not in the PSI").isEqualTo(0x7004_0000L);
        bed.submit(piotlbPasid(DID, 0x12));
        assertThat(bed.pa(SID, 0x12, 0x40000, false)).isEqualTo(-FaultReason.READ);
    }

    @Test
    @DisplayName("RID requests in scalable mode are cached under RID_PASID: the driver flushes them with that PASID")
    void ridPasidTagging() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        VtdTestBed.FlTable fl = bed.new FlTable(4);
        long pte = fl.map(0x1000, 0x6000_1000L, 12, true);
        long dir = bed.newPasidDir();
        bed.setPasidEntry(dir, 0, pasidEntryFirstLevel(fl.root, 2, DID, false));
        bed.setScalableContext(SID, scalableContext(dir, 0, false, false, 0));
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x6000_1000L);
        bed.mem.writeLong(pte, 0);
        bed.submit(piotlbPages(DID, 1, 0x1000, 1, false));
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x6000_1000L);
        bed.submit(piotlbPages(DID, 0, 0x1000, 1, false));
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(-FaultReason.FS_PAGING_ENTRY_NOT_PRESENT);
    }

    /** Records what reaches an endpoint's ATC. */
    private static final class RecordingTlb implements org.jiommu.bus.dma.DeviceTlb {
        final List<String> calls = new ArrayList<>();

        @Override
        public void invalidate(int pasid, boolean allPasids, long address, long size) {
            calls.add(String.format("%d %b %#x %#x", pasid, allPasids, address, size));
        }
    }

    @Test
    @DisplayName("device-TLB and PASID-based device-TLB descriptors reach the registered endpoint with its range")
    void deviceTlbForwarding() {
        VtdTestBed bed = VtdTestBed.scalable(48);
        RecordingTlb atc = new RecordingTlb();
        RecordingTlb other = new RecordingTlb();
        bed.unit.registerDeviceTlb(0x100, atc);
        bed.unit.registerDeviceTlb(0x101, other);
        bed.submit(devTlb(0x100, 0x100, 32, 0x10000, 2), devTlb(0x100, 0x100, 8, 0, 52),
                devTlb(0x100, 0x100, 8, 0x7000, 0), devPiotlb(0x100, 0x100, 0x10, 8, 0x10000, 2, false),
                devPiotlb(0x100, 0x100, 0x10, 8, 0, 52, false), devPiotlb(0x100, 0x100, 0x22, 8, 0x200000, 9, true));
        assertThat(atc.calls).containsExactly(
                "-1 false 0x10000 0x4000",
                "-1 false 0x0 0x7fffffffffffffff",
                "-1 false 0x7000 0x1000",
                "16 false 0x10000 0x4000",
                "16 false 0x0 0x7fffffffffffffff",
                "34 true 0x200000 0x200000");
        assertThat(other.calls).isEmpty();
        bed.unit.unregisterDeviceTlb(0x100);
        bed.submit(devTlb(0x100, 0x100, 32, 0x10000, 2));
        assertThat(atc.calls).hasSize(6);
    }

    @Test
    @DisplayName("wait with IF: ICS.IWC and one completion event; masked by IECTL until software unmasks")
    void waitInterrupt() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        AtomicInteger events = new AtomicInteger();
        bed.unit.setCompletionEventHandler(events::incrementAndGet);
        bed.post(invWait(false, true, false, 0, 0));
        assertThat(bed.unit.read32(ICS_REG) & ICS_IWC).isEqualTo(1);
        assertThat(events.get()).as("IECTL masked at reset").isZero();
        assertThat(bed.unit.read32(IECTL_REG) & ECTL_IP).isNotZero();
        bed.unit.write32(IECTL_REG, 0);
        assertThat(events.get()).isEqualTo(1);
        bed.post(invWait(false, true, false, 0, 0));
        assertThat(events.get()).as("IWC still set: no new event").isEqualTo(1);
        bed.unit.write32(ICS_REG, ICS_IWC);
        assertThat(bed.unit.read32(ICS_REG)).isZero();
        bed.post(invWait(false, true, false, 0, 0));
        assertThat(events.get()).isEqualTo(2);
    }

    @Test
    @DisplayName("a bad descriptor stops the queue with IQE at IQH; after software rewrites it and clears IQE it resumes")
    void queueError() {
        VtdTestBed bed = VtdTestBed.legacy(48);
        long status = bed.allocPage();
        int head = bed.tail();
        bed.post(new long[] {0xF, 0}, invWait(true, false, false, 7, status));
        assertThat(bed.mem.readLong(status)).isZero();
        assertThat(bed.unit.read32(FSTS_REG) & FSTS_IQE).isNotZero();
        assertThat(bed.unit.read64(IQERCD_REG) & 0xF).isEqualTo(IQEI_INVALID_TYPE);
        assertThat(bed.unit.read64(IQH_REG)).isEqualTo((long) head << 4);
        assertThat(bed.unit.lastQueueError()).contains("invalid descriptor type 15");
        // Linux qi_check_fault: overwrite the offending descriptor, then clear IQE.
        long a = bed.unit.read64(IQA_REG) & ~0xFFFL;
        bed.mem.writeLong(a + bed.unit.read64(IQH_REG), invWait(true, false, false, 6, status)[0]);
        bed.mem.writeLong(a + bed.unit.read64(IQH_REG) + 8, status);
        bed.unit.write32(FSTS_REG, FSTS_IQE);
        assertThat(bed.mem.readLong(status)).isEqualTo(7);
        assertThat(bed.unit.read64(IQH_REG)).isEqualTo(bed.unit.read64(IQT_REG));

        bed.post(new long[] {iotlbGlobal()[0] | 0x100, 0});
        assertThat(bed.unit.read64(IQERCD_REG) & 0xF).isEqualTo(IQEI_RESERVED_FIELD);
        bed.unit.write32(FSTS_REG, FSTS_IQE); // resumes on the same bad descriptor: stops again
        assertThat(bed.unit.read32(FSTS_REG) & FSTS_IQE).isNotZero();
        assertThat(bed.unit.stats().get("inv.queue-errors")).isEqualTo(3);
    }

    @Test
    @DisplayName("PASID-based descriptors need a 256-bit queue; IOTLB AM above MAMV is refused")
    void descriptorWidthAndMamv() {
        VtdTestBed legacy = VtdTestBed.legacy(48);
        legacy.post(pasidCache(3, 0, 0));
        assertThat(legacy.unit.read64(IQERCD_REG) & 0xF).isEqualTo(IQEI_INVALID_TYPE);
        VtdTestBed narrow = new VtdTestBed(VtdConfig.builder().build());
        narrow.rootTable = narrow.allocPage();
        long q = narrow.allocPage();
        narrow.unit.write64(IQA_REG, q); // DW = 0 on a scalable unit
        narrow.unit.write32(GCMD_REG, GCMD_QIE);
        narrow.mem.writeLong(q, pasidCache(3, 0, 0)[0]);
        narrow.unit.write64(IQT_REG, 1 << 4);
        assertThat(narrow.unit.read64(IQERCD_REG) & 0xF).isEqualTo(IQEI_INVALID_WIDTH);

        VtdTestBed bed = VtdTestBed.legacy(48);
        bed.post(iotlbPage(1, 0, 19, false, false, false));
        assertThat(bed.unit.read32(FSTS_REG) & FSTS_IQE).isNotZero();
        assertThat(bed.unit.read64(CAP_REG) >>> CAP_MAMV_SHIFT & 0x3F).isEqualTo(18);
    }

    @Test
    @DisplayName("deferred queue processing: descriptors run when the model is told to, not at the tail write")
    void deferred() {
        VtdTestBed bed = new VtdTestBed(VtdConfig.builder().scalableMode(false).deferredInvalidation(true).build());
        bed.rootTable = bed.allocPage();
        long q = bed.allocPage();
        long status = bed.allocPage();
        bed.unit.write64(IQA_REG, q);
        bed.unit.write32(GCMD_REG, GCMD_QIE);
        bed.mem.writeLong(q, invWait(true, false, false, 3, status)[0]);
        bed.mem.writeLong(q + 8, status);
        bed.unit.write64(IQT_REG, 1 << 4);
        assertThat(bed.mem.readLong(status)).isZero();
        assertThat(bed.unit.read64(IQH_REG)).isZero();
        bed.unit.processInvalidationQueue();
        assertThat(bed.mem.readLong(status)).isEqualTo(3);
        assertThat(bed.unit.read64(IQH_REG)).isEqualTo(1 << 4);
    }

    @Test
    @DisplayName("register-based invalidation (CCMD, IOTLB_REG + IVA_REG) when queued invalidation is off")
    void registerBasedInvalidation() {
        VtdTestBed bed = new VtdTestBed(VtdConfig.legacy(48));
        bed.rootTable = bed.allocPage();
        VtdTestBed.SlTable t = bed.new SlTable(4);
        long pte = t.map(0x1000, 0x9000_1000L, 12, true, true);
        bed.setLegacyContext(SID, legacyContext(t.root, 0, 2, DID, false));
        bed.unit.write64(RTADDR_REG, bed.rootTable);
        bed.unit.write32(GCMD_REG, GCMD_SRTP);
        bed.unit.write32(GCMD_REG, GCMD_TE);
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x9000_1000L);
        bed.mem.writeLong(pte, 0);
        bed.unit.write64(IVA_REG, 0x1000); // AM 0
        bed.unit.write64(IOTLB_REG, IOTLB_IVT | 3L << IOTLB_IIRG_SHIFT | (long) (DID + 1) << IOTLB_DID_SHIFT);
        assertThat(bed.unit.read64(IOTLB_REG) & IOTLB_IVT).isZero();
        assertThat(bed.unit.read64(IOTLB_REG) >>> IOTLB_IAIG_SHIFT & 3).isEqualTo(3);
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(0x9000_1000L);
        bed.unit.write64(IOTLB_REG, IOTLB_IVT | 3L << IOTLB_IIRG_SHIFT | (long) DID << IOTLB_DID_SHIFT);
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(-FaultReason.READ);

        bed.setLegacyContext(SID, new long[] {0, 0});
        bed.unit.write64(CCMD_REG, CCMD_ICC | 3L << CCMD_CIRG_SHIFT | (long) (SID + 1) << CCMD_SID_SHIFT);
        assertThat(bed.pa(SID, 0x1000, false)).as("other SID").isEqualTo(-FaultReason.READ);
        bed.unit.write64(CCMD_REG, CCMD_ICC | 1L << CCMD_CIRG_SHIFT);
        assertThat(bed.unit.read64(CCMD_REG) >>> CCMD_CAIG_SHIFT & 3).isEqualTo(1);
        assertThat(bed.pa(SID, 0x1000, false)).isEqualTo(-FaultReason.CONTEXT_ENTRY_NOT_PRESENT);
    }
}
