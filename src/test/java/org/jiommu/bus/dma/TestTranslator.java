package org.jiommu.bus.dma;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * A simple IOMMU for the endpoint tests: 4 KiB pages (or {@code pageSize}) mapped at a fixed
 * offset unless remapped one by one, some pages not present, some read-only. Counts requests.
 */
final class TestTranslator implements DmaTranslator {
    static final int NOT_PRESENT = 6;
    static final int NO_WRITE = 5;

    long offset;
    long pageSize = 4096;
    final Map<Long, Long> remapped = new HashMap<>();
    final Set<Long> notPresent = new HashSet<>();
    final Set<Long> readOnly = new HashSet<>();
    int translationRequests;
    int untranslated;
    int faultsRecorded;
    /** Runs inside translate (to model an invalidation racing a Translation Request). */
    Runnable duringTranslate;

    TestTranslator(long offset) {
        this.offset = offset;
    }

    @Override
    public boolean translate(int sourceId, int pasid, long iova, boolean write, boolean translationRequest,
                             TranslationResult out) {
        if (translationRequest) {
            translationRequests++;
        } else {
            untranslated++;
        }
        if (duringTranslate != null) {
            duringTranslate.run();
        }
        long page = iova & -pageSize;
        if (notPresent.contains(page)) {
            faultsRecorded++;
            out.fault(NOT_PRESENT, "not present");
            return false;
        }
        boolean ro = readOnly.contains(page);
        if (write && ro && !translationRequest) {
            faultsRecorded++;
            out.fault(NO_WRITE, "write without W permission");
            return false;
        }
        long base = remapped.getOrDefault(page, page + offset);
        out.pa = base + (iova - page);
        out.pageSize = pageSize;
        out.readable = true;
        out.writable = !ro;
        return true;
    }
}
