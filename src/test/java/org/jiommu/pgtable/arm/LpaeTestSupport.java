package org.jiommu.pgtable.arm;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;

/** Small helpers shared by the ARM LPAE tests. */
final class LpaeTestSupport {
    static final long SZ_4K = 1L << 12;
    static final long SZ_16K = 1L << 14;
    static final long SZ_64K = 1L << 16;
    static final long SZ_2M = 1L << 21;
    static final long SZ_32M = 1L << 25;
    static final long SZ_512M = 1L << 29;
    static final long SZ_1G = 1L << 30;
    static final long SZ_2G = 1L << 31;
    static final long BITMAP_4K = SZ_4K | SZ_2M | SZ_1G;
    static final long BITMAP_16K = SZ_16K | SZ_32M;
    static final long BITMAP_64K = SZ_64K | SZ_512M;

    private LpaeTestSupport() {
    }

    /** 1 GiB of sparse memory; the frame pool is its top 256 MiB. */
    static FrameAllocator frames() {
        return new FrameAllocator(new PhysicalMemory(1L << 30));
    }

    /** Records every WARN as "where: message". */
    static final class Warnings implements WarningSink {
        final List<String> seen = new ArrayList<>();

        @Override
        public synchronized void warn(String where, String message) {
            seen.add(where + ": " + message);
        }
    }

    /**
     * TLB callbacks that check what the kernel's selftest dummy ops check (a flushed size is a
     * supported page size) and count what they were asked to do.
     */
    static final class CheckingTlb implements TlbOps {
        long bitmap;
        int flushAll;
        int flushWalk;
        int addPage;
        final List<String> violations = new ArrayList<>();

        @Override
        public void tlbFlushAll() {
            flushAll++;
        }

        @Override
        public void tlbFlushWalk(long iova, long size, long granule) {
            flushWalk++;
            if ((size & bitmap) == 0) {
                violations.add(String.format("flush_walk size %#x not in %#x", size, bitmap));
            }
        }

        @Override
        public void tlbAddPage(IotlbGather gather, long iova, long granule) {
            addPage++;
            if ((granule & bitmap) == 0) {
                violations.add(String.format("add_page size %#x not in %#x", granule, bitmap));
            }
            TlbOps.super.tlbAddPage(gather, iova, granule);
        }
    }

    static ArmLpaeConfig.Builder cfg(PgtableFormat format, long bitmap, int ias, int oas) {
        return ArmLpaeConfig.builder(format).pgsizeBitmap(bitmap).ias(ias).oas(oas);
    }

    static String sizes(long bitmap) {
        StringBuilder sb = new StringBuilder();
        for (long b = bitmap; b != 0; b &= b - 1) {
            if (sb.length() > 0) {
                sb.append('|');
            }
            sb.append(size(Long.lowestOneBit(b)));
        }
        return sb.toString();
    }

    static String size(long s) {
        int shift = Long.numberOfTrailingZeros(s);
        if (shift >= 40) {
            return (1L << (shift - 40)) + "T";
        } else if (shift >= 30) {
            return (1L << (shift - 30)) + "G";
        } else if (shift >= 20) {
            return (1L << (shift - 20)) + "M";
        }
        return (1L << (shift - 10)) + "K";
    }
}
