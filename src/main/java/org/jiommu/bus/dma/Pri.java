package org.jiommu.bus.dma;

import java.util.HashMap;
import java.util.Map;

/**
 * An endpoint's Page Request Interface (PCIe 10.4): the Enable bit software sets
 * ({@code pci_enable_pri}), the group indexes it hands out, and the PRG Responses it has
 * received and not yet consumed. {@link DmaEngine} uses it when an ATS Translation Completion
 * lacks the permission an access needs: it sends one page request (a group of one, L set),
 * expects the response, and retries the translation once on Success.
 *
 * <p>Thread-safe (its monitor). A response for a group that is not outstanding is counted as
 * unexpected and dropped, as a function ignores a stray PRG Response (PCIe 10.4.2).
 */
public final class Pri implements PageResponseReceiver {
    /** PRG indexes are 9 bits. */
    public static final int PRG_INDEXES = 512;

    private boolean enabled;
    private int nextIndex;
    private final Map<Integer, Integer> outstanding = new HashMap<>();
    private long requests;
    private long responses;
    private long unexpectedResponses;

    /** PRI Enable (set by {@code pci_enable_pri}, cleared by {@code pci_disable_pri}). */
    public synchronized boolean enabled() {
        return enabled;
    }

    public synchronized void setEnabled(boolean v) {
        enabled = v;
        if (!v) {
            outstanding.clear(); // clearing Enable discards outstanding requests (PCIe 10.5.2.1)
        }
    }

    /** A fresh group index, now outstanding with no response yet. */
    synchronized int beginGroup() {
        int start = nextIndex;
        do {
            int idx = nextIndex;
            nextIndex = (nextIndex + 1) % PRG_INDEXES;
            if (!outstanding.containsKey(idx)) {
                outstanding.put(idx, null);
                requests++;
                return idx;
            }
        } while (nextIndex != start);
        return -1;
    }

    /** The response to {@code prgIndex} and the end of the group, or null if none came (the group is dropped). */
    synchronized Integer endGroup(int prgIndex) {
        return outstanding.remove(prgIndex);
    }

    @Override
    public synchronized void pageGroupResponse(int pasid, int prgIndex, int responseCode) {
        if (!outstanding.containsKey(prgIndex) || outstanding.get(prgIndex) != null) {
            unexpectedResponses++;
            return;
        }
        responses++;
        outstanding.put(prgIndex, responseCode);
    }

    /** Page requests sent, responses taken, responses for no outstanding group. */
    public synchronized Stats stats() {
        return new Stats(requests, responses, unexpectedResponses);
    }

    public record Stats(long requests, long responses, long unexpectedResponses) {
    }
}
