package org.jiommu.bench;

import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.dma.TranslationResult;

/**
 * DMA translation as the DMA engine asks for it, one request per page (no PASID, read): a
 * 64-page working set, so with the IOTLB on every request after the first pass hits, and with
 * it off every request walks the table from memory (context and PASID caches still hit). A batch
 * is 64 passes over the set; the figure is translations per second.
 */
final class TranslateFixture implements Fixture {
    static final int PAGES = 64;
    static final int PASSES = 64;
    static final long IOVA = 0x40_0000L;
    static final long PA = 0x1_0000_0000L;

    private final DmaTranslator translator;
    private final int sid;
    private final int pasid;
    private final TranslationResult out = new TranslationResult();

    TranslateFixture(PlatformAdapter.Target target) {
        this(target, DmaTranslator.NO_PASID);
    }

    /** Requests from {@code target} with {@code pasid}; its pages [IOVA, +PAGES) must map to [PA, ...). */
    TranslateFixture(PlatformAdapter.Target target, int pasid) {
        this.translator = target.translator();
        this.sid = target.requesterId();
        this.pasid = pasid;
        for (int i = 0; i < PAGES; i++) {
            if (!translator.translate(sid, pasid, IOVA + i * 4096L, false, false, out)
                    || out.pa != PA + i * 4096L) {
                throw new IllegalStateException("benchmark set-up: page " + i + " does not translate");
            }
        }
    }

    static Fixture vtd(boolean scalable, boolean iotlb) {
        return new TranslateFixture(PlatformAdapter.vtdEndpoint(scalable, iotlb ? 1024 : 0, IOVA, PA, PAGES));
    }

    static Fixture smmuv2(boolean tlb) {
        return new TranslateFixture(PlatformAdapter.smmuv2Endpoint(tlb ? 512 : 0, IOVA, PA, PAGES));
    }

    static Fixture smmuv3(boolean tlb) {
        return new TranslateFixture(PlatformAdapter.smmuv3Endpoint(tlb ? 4096 : 0, IOVA, PA, PAGES));
    }

    /** SMMUv3 stage 1 nested over an identity stage 2, programmed directly ({@link SmmuV3Direct}): StreamID 0. */
    static Fixture smmuv3Nested(boolean tlb) {
        return new TranslateFixture(new PlatformAdapter.Target(SmmuV3Direct.build(true, tlb ? 4096 : 0, IOVA, PA,
                PAGES), 0));
    }

    @Override
    public int opsPerBatch() {
        return PAGES * PASSES;
    }

    @Override
    public long batch() {
        DmaTranslator t = translator;
        TranslationResult r = out;
        int pasid = this.pasid;
        long sum = 0;
        for (int p = 0; p < PASSES; p++) {
            for (int i = 0; i < PAGES; i++) {
                t.translate(sid, pasid, IOVA + i * 4096L + 8, false, false, r);
                sum += r.pa;
            }
        }
        return sum;
    }
}
