package org.jiommu.bus.dma;

import java.util.concurrent.atomic.LongAdder;

import org.jiommu.bus.Device;
import org.jiommu.mem.MemoryFault;
import org.jiommu.mem.PhysicalMemory;

/**
 * A device's DMA engine: reads and writes bytes at (PASID, IOVA) through the IOMMU above the
 * device, moving them in simulated physical memory.
 *
 * <p>A transfer is cut at page boundaries and every page is translated on its own:
 * <ul>
 * <li>ATS enabled ({@link AtsCapable#atsEnabled()}): the ATC is consulted; on a miss the engine
 *     sends a Translation Request ({@code translationRequest = true}), caches the completion and
 *     issues a translated access to the returned address (the IOMMU does not see it again). If
 *     the completion lacks the needed permission, the engine falls back to an untranslated
 *     request, which the IOMMU checks and faults on itself.</li>
 * <li>Otherwise every page goes through {@link DmaTranslator#translate} untranslated.</li>
 * </ul>
 * A fault ends the transfer; it comes back in the {@link DmaResult} (bytes already moved stay
 * moved, as on a real bus), never as an exception. An address beyond memory is a
 * {@link DmaResult.Status#MEMORY_FAULT}.
 *
 * <p>The source ID is the requester ID the IOMMU sees ({@code PciTopology.dmaRequesterId} for a
 * PCI function, a stream ID of a platform device). Thread-safe; each thread passes its own
 * {@link DmaResult}. Nothing is allocated per page on the ATC-hit path.
 */
public final class DmaEngine {
    /** Translation Requests raced by an invalidation before the engine gives up on the ATC for a page. */
    static final int MAX_TRANSLATION_ATTEMPTS = 4;
    private static final long MIN_PAGE = 4096;

    private final Device device;
    private final int sourceId;
    private final DmaTranslator translator;
    private final PhysicalMemory memory;
    private final AtsCapable ats;
    private final Pri pri;
    private final PageRequestSink pageRequests;

    private final LongAdder dmas = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder atcHits = new LongAdder();
    private final LongAdder atcMisses = new LongAdder();
    private final LongAdder translationRequests = new LongAdder();
    private final LongAdder untranslatedRequests = new LongAdder();
    private final LongAdder faults = new LongAdder();
    private final LongAdder pageRequestsSent = new LongAdder();

    /**
     * @param sourceId requester ID (bus << 8 | devfn) or stream ID the requests carry
     * @param translator the IOMMU the device's requests reach
     */
    public DmaEngine(Device device, int sourceId, DmaTranslator translator, PhysicalMemory memory) {
        if (device == null || translator == null || memory == null) {
            throw new IllegalArgumentException("DMA engine needs a device, a translator and memory");
        }
        this.device = device;
        this.sourceId = sourceId;
        this.translator = translator;
        this.memory = memory;
        this.ats = device instanceof AtsCapable a && a.atc() != null ? a : null;
        this.pri = device instanceof PriCapable p ? p.pri() : null;
        this.pageRequests = translator instanceof PageRequestSink s ? s : null;
    }

    public Device device() {
        return device;
    }

    /** The IOMMU (or the no-IOMMU path) the device's requests reach. */
    public DmaTranslator translator() {
        return translator;
    }

    public int sourceId() {
        return sourceId;
    }

    /** Reads {@code len} bytes at {@code iova} into {@code dst[off..]}. */
    public DmaResult read(int pasid, long iova, byte[] dst, int off, int len, DmaResult out) {
        return transfer(pasid, iova, dst, off, len, false, out);
    }

    /** Writes {@code src[off..off+len)} to {@code iova}. */
    public DmaResult write(int pasid, long iova, byte[] src, int off, int len, DmaResult out) {
        return transfer(pasid, iova, src, off, len, true, out);
    }

    /** Reads {@code dst.length} bytes (allocates the result). */
    public DmaResult read(int pasid, long iova, byte[] dst) {
        return read(pasid, iova, dst, 0, dst.length, new DmaResult());
    }

    /** Writes all of {@code src} (allocates the result). */
    public DmaResult write(int pasid, long iova, byte[] src) {
        return write(pasid, iova, src, 0, src.length, new DmaResult());
    }

    private DmaResult transfer(int pasid, long iova, byte[] buf, int off, int len, boolean write, DmaResult out) {
        if (pasid < DmaTranslator.NO_PASID || pasid > 0xfffff) {
            throw new IllegalArgumentException("PASID " + pasid + " outside 0..2^20-1 (or NO_PASID)");
        }
        if (off < 0 || len < 0 || off > buf.length - len) {
            throw new IndexOutOfBoundsException("buffer [" + off + ", +" + len + ") of " + buf.length);
        }
        out.reset();
        dmas.increment();
        boolean useAtc = ats != null && ats.atsEnabled();
        int done = 0;
        while (done < len) {
            long addr = iova + done;
            int moved = useAtc ? throughAtc(pasid, addr, buf, off + done, len - done, write, out)
                    : untranslated(pasid, addr, buf, off + done, len - done, write, out);
            if (moved < 0) {
                faults.increment();
                break;
            }
            done += moved;
        }
        bytes.add(done);
        return out;
    }

    /** One page through the ATC; returns the bytes moved or -1 on a fault (recorded in {@code out}). */
    private int throughAtc(int pasid, long addr, byte[] buf, int off, int remaining, boolean write, DmaResult out) {
        Atc atc = ats.atc();
        TranslationResult tr = out.translation;
        // Hold the ATC across hit and access: an invalidation cannot complete under a running access.
        synchronized (atc) {
            if (atc.lookup(pasid, addr, write, tr)) {
                atcHits.increment();
                int n = chunk(addr, tr.pageSize, remaining);
                return access(tr.pa, buf, off, n, write, addr, out) ? n : -1;
            }
        }
        atcMisses.increment();
        boolean pageRequested = false;
        for (int attempt = 0; attempt < MAX_TRANSLATION_ATTEMPTS; attempt++) {
            long seq = atc.invalidationSeq();
            translationRequests.increment();
            tr.clear();
            if (!translator.translate(sourceId, pasid, addr, write, true, tr)) {
                out.fault(DmaResult.Status.TRANSLATION_FAULT, addr, tr.faultCode, tr.faultName);
                return -1;
            }
            synchronized (atc) {
                if (atc.invalidationSeq() != seq) {
                    continue; // the completion may predate the invalidation: ask again
                }
                atc.fill(pasid, addr, tr);
                if (write ? tr.writable : tr.readable) {
                    int n = chunk(addr, tr.pageSize, remaining);
                    return access(tr.pa, buf, off, n, write, addr, out) ? n : -1;
                }
            }
            // Granted without the needed permission: with PRI, ask software for the page once
            // (PCIe 10.4: page request, wait for the PRG Response, retry the Translation Request
            // on Success); otherwise, or after Invalid/Failure, let the IOMMU judge an untranslated request.
            if (!pageRequested && pageRequest(pasid, addr, write)) {
                pageRequested = true;
                attempt = -1;
                continue;
            }
            break;
        }
        return untranslated(pasid, addr, buf, off, remaining, write, out);
    }

    /**
     * A group of one page request (L set) for the page of {@code addr}; true if the response was
     * Success. The model's IOMMU answers synchronously (its software runs on this thread), so no
     * response by the time {@code pageRequest} returns means the group was dropped.
     */
    private boolean pageRequest(int pasid, long addr, boolean write) {
        if (pri == null || pageRequests == null || !pri.enabled()) {
            return false;
        }
        int prg = pri.beginGroup();
        if (prg < 0) {
            return false;
        }
        pageRequestsSent.increment();
        // A write also needs read access for the PRI "write" request (PCIe 10.4.1: R and W both set).
        pageRequests.pageRequest(sourceId, pasid, addr & ~(MIN_PAGE - 1), true, write, true, prg);
        Integer code = pri.endGroup(prg);
        return code != null && code == PageResponseReceiver.RESPONSE_SUCCESS;
    }

    /** One page as an untranslated request; returns the bytes moved or -1 on a fault. */
    private int untranslated(int pasid, long addr, byte[] buf, int off, int remaining, boolean write, DmaResult out) {
        TranslationResult tr = out.translation;
        tr.clear();
        untranslatedRequests.increment();
        if (!translator.translate(sourceId, pasid, addr, write, false, tr)) {
            out.fault(DmaResult.Status.TRANSLATION_FAULT, addr, tr.faultCode, tr.faultName);
            return -1;
        }
        int n = chunk(addr, tr.pageSize, remaining);
        return access(tr.pa, buf, off, n, write, addr, out) ? n : -1;
    }

    /** Bytes from {@code addr} to the end of its translated page, at most {@code remaining}. */
    private static int chunk(long addr, long pageSize, int remaining) {
        long ps = pageSize >= MIN_PAGE && Long.bitCount(pageSize) == 1 ? pageSize : MIN_PAGE;
        long left = ps - (addr & (ps - 1));
        return (int) Math.min(left, remaining);
    }

    private boolean access(long pa, byte[] buf, int off, int n, boolean write, long iova, DmaResult out) {
        try {
            if (write) {
                memory.write(pa, buf, off, n);
            } else {
                memory.read(pa, buf, off, n);
            }
        } catch (MemoryFault f) {
            out.fault(DmaResult.Status.MEMORY_FAULT, iova, DmaResult.MEMORY_FAULT_CODE, DmaResult.MEMORY_FAULT_NAME);
            return false;
        }
        out.moved(pa, n);
        return true;
    }

    public Stats stats() {
        return new Stats(dmas.sum(), bytes.sum(), atcHits.sum(), atcMisses.sum(), translationRequests.sum(),
                untranslatedRequests.sum(), faults.sum(), pageRequestsSent.sum());
    }

    /**
     * Counters: transfers started, bytes moved, pages served from the ATC, ATC misses, ATS
     * Translation Requests sent, untranslated requests sent, transfers ended by a fault, page
     * requests sent (PRI).
     */
    public record Stats(long dmas, long bytes, long atcHits, long atcMisses, long translationRequests,
                        long untranslatedRequests, long faults, long pageRequests) {
        /** The counters without page requests (the record's shape before PRI). */
        public Stats(long dmas, long bytes, long atcHits, long atcMisses, long translationRequests,
                     long untranslatedRequests, long faults) {
            this(dmas, bytes, atcHits, atcMisses, translationRequests, untranslatedRequests, faults, 0);
        }
    }
}
