package org.jiommu.hw.smmuv2;

/**
 * What an SMMUv2 implementation offers, as its ID registers report it (SMMUv2 spec 10.6
 * SMMU_IDR0-2): stream match register groups, context banks (the first {@code numS2Cb} of them
 * stage-2 only capable, as IDR1.NUMS2CB counts), stream id bits, output address size, and the
 * size of the TLB the model keeps. Register pages are 4 KiB (IDR1.PAGESIZE = 0).
 *
 * @param numSmrg stream match register groups (IDR0.NUMSMRG, 1..127); 0 means no stream
 *     matching (IDR0.SMS = 0): the stream id indexes the S2CRs directly, 2^streamIdBits of them
 * @param numCb translation context banks (IDR1.NUMCB, 1..128)
 * @param numS2Cb how many of the first banks support stage 2 only (IDR1.NUMS2CB)
 * @param streamIdBits IDR0.NUMSIDB (1..15)
 * @param oas output (physical) address bits: 32, 36, 40, 42, 44 or 48 (IDR2.OAS)
 * @param tlbEntries TLB capacity (0: every request walks)
 */
public record Smmuv2Config(int numSmrg, int numCb, int numS2Cb, int streamIdBits, int oas, int tlbEntries) {
    public Smmuv2Config {
        if (numSmrg < 0 || numSmrg > 127) {
            throw new IllegalArgumentException("numSmrg " + numSmrg + " outside 0..127");
        }
        if (numCb < 1 || numCb > 128 || numS2Cb < 0 || numS2Cb > numCb) {
            throw new IllegalArgumentException("numCb " + numCb + " / numS2Cb " + numS2Cb);
        }
        if (streamIdBits < 1 || streamIdBits > 15 || (numSmrg == 0 && streamIdBits > 7)) {
            // Without stream matching there is one S2CR per stream id and at most 128 of them
            // fit the S2CR window (0xC00..0xDFF).
            throw new IllegalArgumentException("streamIdBits " + streamIdBits);
        }
        oasEncoding(oas);
        if (tlbEntries < 0) {
            throw new IllegalArgumentException("tlbEntries " + tlbEntries);
        }
    }

    /** An MMU-500-like unit: 16 SMRs, 8 context banks (none stage-2 only), 15-bit stream ids, 48-bit OAS. */
    public static Smmuv2Config defaults() {
        return new Smmuv2Config(16, 8, 0, 15, 48, 512);
    }

    public Smmuv2Config withNumCb(int n) {
        return new Smmuv2Config(numSmrg, n, Math.min(numS2Cb, n), streamIdBits, oas, tlbEntries);
    }

    public Smmuv2Config withNumSmrg(int n) {
        return new Smmuv2Config(n, numCb, numS2Cb, n == 0 ? Math.min(streamIdBits, 7) : streamIdBits, oas,
                tlbEntries);
    }

    public Smmuv2Config withTlbEntries(int n) {
        return new Smmuv2Config(numSmrg, numCb, numS2Cb, streamIdBits, oas, n);
    }

    /** Stream-to-context registers: one per SMR, or one per stream id without stream matching. */
    public int numS2cr() {
        return numSmrg == 0 ? 1 << streamIdBits : numSmrg;
    }

    /** Register pages of each half of the space (NUMPAGE = 2^(NUMPAGENDXB + 1) >= numCb). */
    public int numPage() {
        int p = 2;
        while (p < numCb) {
            p <<= 1;
        }
        return p;
    }

    /** IDR2.OAS / IAS encoding of an address size (0..5 = 32, 36, 40, 42, 44, 48). */
    static int oasEncoding(int bits) {
        return switch (bits) {
            case 32 -> 0;
            case 36 -> 1;
            case 40 -> 2;
            case 42 -> 3;
            case 44 -> 4;
            case 48 -> 5;
            default -> throw new IllegalArgumentException("address size " + bits);
        };
    }
}
