package org.jiommu.driver.common;

import org.jiommu.mem.PhysicalMemory;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.Text;

/**
 * The levels of a VMSAv8-64 (Arm LPAE) table walk, one {@link HwWalk} entry per descriptor read
 * from memory, for the walk view of the mock and SMMUv2 kinds (Arm ARM D8.3: bit 0 valid, bit 1
 * table above the last level and page at it, output address bits 47:granule, AP[2:1] bits 7:6,
 * AF bit 10, XN bits 54:53). The start level follows from the input size and granule (D8.2).
 */
public final class ArmLevels {
    private static final long OA_MASK = 0x0000_ffff_ffff_f000L;

    private ArmLevels() {
    }

    /** Walks from {@code root}; ends the builder with the output address or where it stopped. */
    public static HwWalk walk(HwWalk.Builder b, PhysicalMemory mem, long root, int ias, int granuleShift, long va) {
        int bits = granuleShift - 3;
        return walk(b, mem, root, ias, granuleShift, 4 - (ias - granuleShift + bits - 1) / bits, va);
    }

    /**
     * Walks from {@code root} starting at {@code startLevel} (a stage-2 VTCR.SL0 may start lower
     * than the input size needs: the first table is then concatenated, D8.2.9, and indexed by
     * every input bit above its level).
     */
    public static HwWalk walk(HwWalk.Builder b, PhysicalMemory mem, long root, int ias, int granuleShift,
                              int startLevel, long va) {
        if (ias < 64 && (va >>> ias) != 0) {
            return b.end(Text.format(va) + " is beyond the " + ias + "-bit input size: fault", -1);
        }
        int g = granuleShift;
        int bits = g - 3;
        long table = root;
        for (int level = startLevel; level <= 3; level++) {
            int shift = g + (3 - level) * bits;
            long idx = level == startLevel ? va >>> shift : (va >>> shift) & ((1L << bits) - 1);
            long a = table + idx * 8L;
            long d = mem.readLong(a);
            boolean valid = (d & 1) != 0;
            boolean tableBit = (d & 2) != 0;
            String type = !valid ? "invalid" : level < 3 ? (tableBit ? "table" : "block") : (tableBit ? "page" : "reserved");
            b.entry("level " + level + " [" + idx + "]", a, d).field("type", type)
                    .field("address", d & OA_MASK & -(1L << g));
            if (valid && !(level < 3 && tableBit)) {
                b.field("AP", d >>> 6 & 3).field("AF", (d & 1L << 10) != 0).field("XN", d >>> 53 & 3);
            }
            if (!valid || "reserved".equals(type)) {
                return b.end("not present at level " + level + ": fault", -1);
            }
            if (level < 3 && tableBit) {
                table = d & OA_MASK & -(1L << g);
                continue;
            }
            long size = 1L << shift;
            long pa = (d & OA_MASK & -size) | (va & (size - 1));
            return b.end("translates to " + Text.format(pa) + " (" + Text.formatSize(size) + " "
                    + (level < 3 ? "block" : "page") + ", " + ((d & 1L << 7) != 0 ? "read-only" : "read-write") + ")", pa);
        }
        return b.end("no level walked: fault", -1);
    }
}
