package org.jiommu.bus.dma;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.util.List;

import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.mem.PhysicalMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The endpoint's DMA engine: per-page translation, ATS and its ATC, faults as results. */
class DmaEngineTest {
    private static final int NO_PASID = DmaTranslator.NO_PASID;
    private final PhysicalMemory mem = new PhysicalMemory(64L << 20);

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    private static PciDevice nic(boolean ats) {
        return new PciDevice("nic0", 0, 1, 0, ats, 20, false, false);
    }

    @Test
    @DisplayName("without ATS every page is translated: a write crossing pages lands at the translated addresses")
    void untranslatedCrossesPages() {
        TestTranslator iommu = new TestTranslator(0x100000);
        DmaEngine dma = new DmaEngine(nic(false), 0x100, iommu, mem);
        byte[] data = pattern(10000, 1);
        DmaResult r = dma.write(NO_PASID, 0x1800, data);
        assertThat(r.ok()).isTrue();
        assertThat(r.bytes()).isEqualTo(10000);
        assertThat(r.firstPa()).isEqualTo(0x101800);
        assertThat(iommu.untranslated).isEqualTo(3); // pages 0x1000, 0x2000, 0x3000
        assertThat(mem.read(0x101800, 10000)).isEqualTo(data);
        byte[] back = new byte[10000];
        assertThat(dma.read(NO_PASID, 0x1800, back).ok()).isTrue();
        assertThat(back).isEqualTo(data);
        assertThat(dma.stats()).isEqualTo(new DmaEngine.Stats(2, 20000, 0, 0, 0, 6, 0));
    }

    @Test
    @DisplayName("scattered pages: each page goes where its own translation says")
    void scatteredPages() {
        TestTranslator iommu = new TestTranslator(0);
        iommu.remapped.put(0x10000L, 0x500000L);
        iommu.remapped.put(0x11000L, 0x200000L);
        DmaEngine dma = new DmaEngine(nic(false), 0x100, iommu, mem);
        byte[] data = pattern(0x1010, 7);
        DmaResult r = dma.write(NO_PASID, 0x10ff8, data);
        assertThat(r.ok()).isTrue();
        assertThat(mem.read(0x500ff8, 8)).isEqualTo(java.util.Arrays.copyOfRange(data, 0, 8));
        assertThat(mem.read(0x200000, 0x1000)).isEqualTo(java.util.Arrays.copyOfRange(data, 8, 0x1008));
        assertThat(mem.read(0x12000, 8)).isEqualTo(java.util.Arrays.copyOfRange(data, 0x1008, 0x1010));
        assertThat(mem.read(0x501000, 8)).containsOnly(0);
    }

    @Test
    @DisplayName("partial-page transfers: a few bytes inside a page, and a small transfer straddling two pages")
    void partialPages() {
        TestTranslator iommu = new TestTranslator(0x40000);
        DmaEngine dma = new DmaEngine(nic(false), 0x100, iommu, mem);
        byte[] buf = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        assertThat(dma.write(NO_PASID, 0x2ff8, buf, 0, 16, new DmaResult()).ok()).isTrue();
        assertThat(iommu.untranslated).isEqualTo(2);
        assertThat(mem.read(0x42ff8, 16)).isEqualTo(buf);
        assertThat(dma.write(NO_PASID, 0x5123, buf, 4, 3, new DmaResult()).bytes()).isEqualTo(3);
        assertThat(mem.read(0x45122, 5)).containsExactly(0, 5, 6, 7, 0);
        byte[] dst = new byte[6];
        assertThat(dma.read(NO_PASID, 0x2ffe, dst, 1, 4, new DmaResult()).ok()).isTrue();
        assertThat(dst).containsExactly(0, 7, 8, 9, 10, 0);
    }

    @Test
    @DisplayName("a fault mid-transfer stops it: earlier pages moved, the faulting page did not, no exception")
    void faultMidTransfer() {
        TestTranslator iommu = new TestTranslator(0x100000);
        iommu.notPresent.add(0x3000L);
        DmaEngine dma = new DmaEngine(nic(false), 0x100, iommu, mem);
        byte[] data = pattern(0x3000, 3);
        DmaResult r = dma.write(NO_PASID, 0x1000, data);
        assertThat(r.ok()).isFalse();
        assertThat(r.status()).isEqualTo(DmaResult.Status.TRANSLATION_FAULT);
        assertThat(r.bytes()).isEqualTo(0x2000);
        assertThat(r.faultIova()).isEqualTo(0x3000);
        assertThat(r.faultCode()).isEqualTo(TestTranslator.NOT_PRESENT);
        assertThat(r.faultName()).isEqualTo("not present");
        assertThat(mem.read(0x101000, 0x2000)).isEqualTo(java.util.Arrays.copyOf(data, 0x2000));
        assertThat(mem.read(0x103000, 0x1000)).containsOnly(0);
        assertThat(dma.stats().faults()).isEqualTo(1);
    }

    @Test
    @DisplayName("a translation beyond physical memory is a MEMORY_FAULT result, not an exception")
    void memoryFault() {
        TestTranslator iommu = new TestTranslator(1L << 40);
        DmaEngine dma = new DmaEngine(nic(false), 0x100, iommu, mem);
        DmaResult r = dma.read(NO_PASID, 0x1000, new byte[64]);
        assertThat(r.status()).isEqualTo(DmaResult.Status.MEMORY_FAULT);
        assertThat(r.faultCode()).isEqualTo(DmaResult.MEMORY_FAULT_CODE);
        assertThat(r.faultName()).isEqualTo(DmaResult.MEMORY_FAULT_NAME);
        assertThat(r.bytes()).isZero();
        assertThat(r.firstPa()).isEqualTo(-1);
    }

    @Test
    @DisplayName("ATS: a miss sends a Translation Request and fills the ATC; the next access hits without the IOMMU")
    void atsFillThenHit() {
        PciDevice dev = nic(true);
        assertThat(dev.enableAts(12)).isZero();
        TestTranslator iommu = new TestTranslator(0x100000);
        DmaEngine dma = new DmaEngine(dev, 0x100, iommu, mem);
        byte[] data = pattern(0x1800, 9);
        assertThat(dma.write(5, 0x4000, data).ok()).isTrue();
        assertThat(iommu.translationRequests).isEqualTo(2);
        assertThat(iommu.untranslated).isZero();
        assertThat(dev.atc().entries()).containsExactly(new Atc.Entry(5, 0x4000, 0x104000, 0x1000, true, true),
                new Atc.Entry(5, 0x5000, 0x105000, 0x1000, true, true));
        byte[] back = new byte[0x1800];
        assertThat(dma.read(5, 0x4000, back).ok()).isTrue();
        assertThat(back).isEqualTo(data);
        assertThat(iommu.translationRequests).isEqualTo(2);
        assertThat(dma.stats().atcHits()).isEqualTo(2);
        assertThat(dma.stats().atcMisses()).isEqualTo(2);
        // another PASID's page is a different entry
        assertThat(dma.read(6, 0x4000, new byte[8]).ok()).isTrue();
        assertThat(iommu.translationRequests).isEqualTo(3);
    }

    @Test
    @DisplayName("stale ATC entry: after a remap without invalidation the device still writes the old page")
    void staleEntryUntilInvalidated() {
        PciDevice dev = nic(true);
        dev.enableAts(12);
        TestTranslator iommu = new TestTranslator(0x100000);
        DmaEngine dma = new DmaEngine(dev, 0x100, iommu, mem);
        dma.write(NO_PASID, 0x7000, new byte[] {1});
        iommu.remapped.put(0x7000L, 0x300000L); // the IOMMU's tables change...
        assertThat(dma.write(NO_PASID, 0x7000, new byte[] {2}).firstPa()).isEqualTo(0x107000);
        assertThat(mem.read(0x107000, 1)).containsExactly(2);
        assertThat(mem.read(0x300000, 1)).containsExactly(0);
        dev.atc().invalidate(NO_PASID, false, 0x7000, 0x1000); // ... and only now the ATC learns
        assertThat(dma.write(NO_PASID, 0x7000, new byte[] {3}).firstPa()).isEqualTo(0x300000);
        assertThat(mem.read(0x300000, 1)).containsExactly(3);
        assertThat(mem.read(0x107000, 1)).containsExactly(2);
    }

    @Test
    @DisplayName("ATS capability but not enabled: untranslated requests only, the ATC stays empty")
    void atsDisabled() {
        PciDevice dev = nic(true);
        TestTranslator iommu = new TestTranslator(0);
        DmaEngine dma = new DmaEngine(dev, 0x100, iommu, mem);
        dma.write(NO_PASID, 0x1000, new byte[16]);
        assertThat(iommu.untranslated).isEqualTo(1);
        assertThat(iommu.translationRequests).isZero();
        assertThat(dev.atc().entries()).isEmpty();
    }

    @Test
    @DisplayName("pci_enable_ats / pci_disable_ats: EINVAL without the capability or a small STU, EBUSY twice; disable empties the ATC")
    void enableDisableAts() {
        PciDevice plain = nic(false);
        assertThat(plain.enableAts(12)).isEqualTo(org.jiommu.base.Errno.EINVAL.neg());
        assertThat(plain.atc()).isNull();
        PciDevice dev = nic(true);
        assertThat(dev.enableAts(11)).isEqualTo(org.jiommu.base.Errno.EINVAL.neg());
        assertThat(dev.enableAts(12)).isZero();
        assertThat(dev.atsStu()).isEqualTo(12);
        assertThat(dev.enableAts(12)).isEqualTo(org.jiommu.base.Errno.EBUSY.neg());
        new DmaEngine(dev, 0x100, new TestTranslator(0), mem).write(NO_PASID, 0x1000, new byte[4]);
        assertThat(dev.atc().entries()).hasSize(1);
        assertThat(dev.disableAts()).isTrue();
        assertThat(dev.atc().entries()).isEmpty();
        assertThat(dev.disableAts()).isFalse();
    }

    @Test
    @DisplayName("a completion without write permission is cached for reads; the write goes untranslated and the IOMMU faults it")
    void readOnlyCompletion() {
        PciDevice dev = nic(true);
        dev.enableAts(12);
        TestTranslator iommu = new TestTranslator(0x100000);
        iommu.readOnly.add(0x2000L);
        DmaEngine dma = new DmaEngine(dev, 0x100, iommu, mem);
        DmaResult r = dma.write(1, 0x2000, new byte[8]);
        assertThat(r.status()).isEqualTo(DmaResult.Status.TRANSLATION_FAULT);
        assertThat(r.faultCode()).isEqualTo(TestTranslator.NO_WRITE);
        assertThat(iommu.translationRequests).isEqualTo(1);
        assertThat(iommu.untranslated).isEqualTo(1);
        assertThat(iommu.faultsRecorded).isEqualTo(1);
        assertThat(dev.atc().entries()).containsExactly(new Atc.Entry(1, 0x2000, 0x102000, 0x1000, true, false));
        assertThat(dma.read(1, 0x2000, new byte[8]).ok()).isTrue();
        assertThat(iommu.translationRequests).isEqualTo(1);
    }

    @Test
    @DisplayName("an invalidation racing a Translation Request: the completion is not cached, the request is repeated")
    void invalidationRacesTranslationRequest() {
        PciDevice dev = nic(true);
        dev.enableAts(12);
        TestTranslator iommu = new TestTranslator(0x100000);
        int[] left = {1};
        iommu.duringTranslate = () -> {
            if (left[0]-- > 0) {
                dev.atc().invalidate(NO_PASID, true, 0, Atc.WHOLE_ADDRESS_SPACE);
            }
        };
        DmaEngine dma = new DmaEngine(dev, 0x100, iommu, mem);
        assertThat(dma.write(NO_PASID, 0x1000, new byte[] {4}).ok()).isTrue();
        assertThat(iommu.translationRequests).isEqualTo(2);
        assertThat(dev.atc().entries()).hasSize(1);
        assertThat(dev.atc().stats().fills()).isEqualTo(1);
    }

    @Test
    @DisplayName("invalidations racing every Translation Request: after a few tries the page goes untranslated, nothing cached")
    void invalidationStorm() {
        PciDevice dev = nic(true);
        dev.enableAts(12);
        TestTranslator iommu = new TestTranslator(0x100000);
        iommu.duringTranslate = () -> dev.atc().invalidate(NO_PASID, true, 0, Atc.WHOLE_ADDRESS_SPACE);
        DmaEngine dma = new DmaEngine(dev, 0x100, iommu, mem);
        DmaResult r = dma.write(NO_PASID, 0x1000, new byte[] {4});
        assertThat(r.ok()).isTrue();
        assertThat(r.firstPa()).isEqualTo(0x101000);
        assertThat(iommu.translationRequests).isEqualTo(DmaEngine.MAX_TRANSLATION_ATTEMPTS);
        assertThat(iommu.untranslated).isEqualTo(1);
        assertThat(dev.atc().entries()).isEmpty();
    }

    @Test
    @DisplayName("large pages: one translation covers a 2 MiB page, the ATC caches it whole")
    void largePage() {
        PciDevice dev = nic(true);
        dev.enableAts(12);
        TestTranslator iommu = new TestTranslator(0x400000);
        iommu.pageSize = 2 << 20;
        DmaEngine dma = new DmaEngine(dev, 0x100, iommu, mem);
        byte[] data = pattern(0x3000, 2);
        assertThat(dma.write(NO_PASID, 0x201000, data).ok()).isTrue();
        assertThat(iommu.translationRequests).isEqualTo(1);
        assertThat(dev.atc().entries()).containsExactly(
                new Atc.Entry(NO_PASID, 0x200000, 0x600000, 2 << 20, true, true));
        assertThat(mem.read(0x601000, 0x3000)).isEqualTo(data);
    }

    @Test
    @DisplayName("a platform device (no ATS) uses its stream ID and untranslated requests")
    void platformDevice() {
        PlatformDevice gpu = new PlatformDevice("gpu", List.of(0x42), 0);
        int[] seen = {-1};
        DmaTranslator iommu = (sid, pasid, iova, write, tr, out) -> {
            seen[0] = sid;
            out.pa = iova;
            out.pageSize = 4096;
            out.readable = out.writable = true;
            return true;
        };
        DmaEngine dma = new DmaEngine(gpu, gpu.streamIds().get(0), iommu, mem);
        assertThat(dma.write(NO_PASID, 0x9000, new byte[] {1, 2}).ok()).isTrue();
        assertThat(seen[0]).isEqualTo(0x42);
        assertThat(mem.read(0x9000, 2)).containsExactly(1, 2);
    }

    @Test
    @DisplayName("bad arguments are programming errors: PASID out of range, buffer slice out of bounds")
    void badArguments() {
        DmaEngine dma = new DmaEngine(nic(false), 0x100, new TestTranslator(0), mem);
        assertThatThrownBy(() -> dma.write(1 << 20, 0, new byte[1])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> dma.write(NO_PASID, 0, new byte[4], 2, 3, new DmaResult()))
                .isInstanceOf(IndexOutOfBoundsException.class);
        DmaResult r = dma.write(NO_PASID, 0x1000, new byte[0]);
        assertThat(r.ok()).isTrue();
        assertThat(r.bytes()).isZero();
    }

    @Test
    @DisplayName("the ATC-hit path allocates nothing per transfer")
    void hitPathAllocatesNothing() {
        PciDevice dev = nic(true);
        dev.enableAts(12);
        DmaEngine dma = new DmaEngine(dev, 0x100, new TestTranslator(0x100000), mem);
        byte[] buf = new byte[0x2000];
        DmaResult r = new DmaResult();
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 20_000; i++) { // fill the ATC, touch the frames, warm up
            dma.write(NO_PASID, 0x10000, buf, 0, buf.length, r);
        }
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 10_000; i++) {
            dma.write(NO_PASID, 0x10000, buf, 0, buf.length, r);
            dma.read(NO_PASID, 0x10000, buf, 0, buf.length, r);
        }
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertThat(r.ok()).isTrue();
        assertThat(allocated).as("bytes allocated by 20000 transfers").isLessThan(20_000);
    }
}
