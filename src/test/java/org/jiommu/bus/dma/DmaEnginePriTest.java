package org.jiommu.bus.dma;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.mem.PhysicalMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** PCIe PRI in the DMA engine: page request on a completion without the permission, retry on Success. */
class DmaEnginePriTest {
    private final PhysicalMemory mem = new PhysicalMemory(16L << 20);

    /** An IOMMU mapping page p to 0x100000 + p once "populated"; its software answers with {@code code}. */
    private static final class PagingIommu implements DmaTranslator, PageRequestSink {
        final Set<Long> populated = new HashSet<>();
        final List<String> requests = new ArrayList<>();
        PageResponseReceiver endpoint;
        int code = PageResponseReceiver.RESPONSE_SUCCESS;
        boolean answer = true;

        @Override
        public boolean translate(int sid, int pasid, long iova, boolean write, boolean tr, TranslationResult out) {
            long page = iova & ~0xFFFL;
            boolean present = populated.contains(page);
            if (!present && !tr) {
                out.faultCode = 0x71;
                out.faultName = "not present";
                return false;
            }
            out.pa = 0x100000 + iova;
            out.pageSize = 4096;
            out.readable = present;
            out.writable = present;
            return true;
        }

        @Override
        public void pageRequest(int sid, int pasid, long address, boolean read, boolean write, boolean last,
                                int prg) {
            requests.add(String.format("%x %d %#x %s%s%s %d", sid, pasid, address, read ? "r" : "-", write ? "w" : "-",
                    last ? " L" : "", prg));
            if (code == PageResponseReceiver.RESPONSE_SUCCESS) {
                populated.add(address);
            }
            if (answer) {
                endpoint.pageGroupResponse(pasid, prg, code);
            }
        }
    }

    private PciDevice device(PagingIommu iommu, boolean priEnabled) {
        PciDevice d = new PciDevice("acc", 0, 1, 0, true, 20, true, false);
        d.enableAts(12);
        d.pri().setEnabled(priEnabled);
        iommu.endpoint = d.pri();
        return d;
    }

    @Test
    @DisplayName("PRI: a translation without the permission sends one page request (R, W, L, group index) and, on Success, retries and lands")
    void successRetries() {
        PagingIommu iommu = new PagingIommu();
        DmaEngine dma = new DmaEngine(device(iommu, true), 0x100, iommu, mem);
        DmaResult r = dma.write(7, 0x5123, new byte[] {1});
        assertThat(r.ok()).isTrue();
        assertThat(r.firstPa()).isEqualTo(0x105123);
        assertThat(iommu.requests).containsExactly("100 7 0x5000 rw L 0");
        assertThat(dma.stats().pageRequests()).isEqualTo(1);
        assertThat(dma.write(7, 0x6000, new byte[] {1}).ok()).isTrue();
        assertThat(iommu.requests).last().isEqualTo("100 7 0x6000 rw L 1");
    }

    @Test
    @DisplayName("PRI: Invalid, Failure or no response -> the untranslated request faults; PRI disabled -> no page request at all")
    void otherwiseFaults() {
        for (int code : new int[] {PageResponseReceiver.RESPONSE_INVALID, PageResponseReceiver.RESPONSE_FAILURE}) {
            PagingIommu iommu = new PagingIommu();
            iommu.code = code;
            DmaEngine dma = new DmaEngine(device(iommu, true), 0x100, iommu, mem);
            DmaResult r = dma.read(7, 0x5000, new byte[1]);
            assertThat(r.faultCode()).isEqualTo(0x71);
            assertThat(iommu.requests).hasSize(1);
        }
        PagingIommu silent = new PagingIommu();
        silent.answer = false;
        silent.code = PageResponseReceiver.RESPONSE_INVALID;
        PciDevice d = device(silent, true);
        DmaEngine dma = new DmaEngine(d, 0x100, silent, mem);
        assertThat(dma.read(7, 0x5000, new byte[1]).faultCode()).isEqualTo(0x71);
        d.pri().pageGroupResponse(7, 0, PageResponseReceiver.RESPONSE_SUCCESS); // too late: dropped
        assertThat(d.pri().stats()).isEqualTo(new Pri.Stats(1, 0, 1));

        PagingIommu off = new PagingIommu();
        DmaEngine dma2 = new DmaEngine(device(off, false), 0x100, off, mem);
        assertThat(dma2.read(7, 0x5000, new byte[1]).faultCode()).isEqualTo(0x71);
        assertThat(off.requests).isEmpty();
    }
}
