package org.jiommu.pgtable.arm;

import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.jiommu.base.Errno;

/**
 * The simplest model of what io-pgtable-arm's map/unmap do: the leaves as a TreeMap of
 * (iova -> size, pa), plus which slots hold table descriptors (tables are created on the way
 * down, and only freed when a block replaces them or an unmap of their size removes them).
 */
final class LpaeReferenceModel {
    final int startLevel;
    final int bitsPerLevel;
    final long ptesPerTable;
    /** iova -> {size, pa}. */
    final TreeMap<Long, long[]> leaves = new TreeMap<>();
    /** tables[level] = first IOVAs of the slots at that level that hold a table descriptor. */
    @SuppressWarnings("unchecked")
    final TreeSet<Long>[] tables = new TreeSet[4];

    LpaeReferenceModel(ArmLpaeConfig.Geometry g) {
        this.startLevel = g.startLevel();
        this.bitsPerLevel = g.bitsPerLevel();
        this.ptesPerTable = g.granule() / 8;
        for (int i = 0; i < 4; i++) {
            tables[i] = new TreeSet<>();
        }
    }

    long blockSize(int level) {
        return 1L << ((4 - level) * bitsPerLevel + 3);
    }

    int levelOf(long size) {
        for (int l = 0; l < 4; l++) {
            if (blockSize(l) == size) {
                return l;
            }
        }
        throw new IllegalArgumentException("no level for " + size);
    }

    private boolean leafAt(long iova, long size) {
        long[] v = leaves.get(iova);
        return v != null && v[0] == size;
    }

    private int entriesLeft(long iova, long size, long count) {
        long idx = Long.remainderUnsigned(Long.divideUnsigned(iova, size), ptesPerTable);
        return (int) Math.min(count, ptesPerTable - idx);
    }

    /** @return {errno, bytes mapped} */
    long[] map(long iova, long pa, long size, long count) {
        int leafLevel = levelOf(size);
        for (int l = startLevel; l < leafLevel; l++) {
            long slot = iova & -blockSize(l);
            if (leafAt(slot, blockSize(l))) {
                return new long[] {Errno.EEXIST.neg(), 0};
            }
            tables[l].add(slot);
        }
        int n = entriesLeft(iova, size, count);
        for (int i = 0; i < n; i++) {
            long s = iova + i * size;
            if (leafAt(s, size)) {
                return new long[] {Errno.EEXIST.neg(), 0};
            }
            if (tables[leafLevel].contains(s)) {
                removeSubtree(leafLevel, s, size);
            }
        }
        for (int i = 0; i < n; i++) {
            leaves.put(iova + i * size, new long[] {size, pa + i * size});
        }
        return new long[] {0, n * size};
    }

    long unmap(long iova, long size, long count) {
        int leafLevel = levelOf(size);
        for (int l = startLevel; l < leafLevel; l++) {
            long slot = iova & -blockSize(l);
            if (leafAt(slot, blockSize(l)) || !tables[l].contains(slot)) {
                return 0; // partial unmap of a block, or a hole
            }
        }
        int n = entriesLeft(iova, size, count);
        int i;
        for (i = 0; i < n; i++) {
            long s = iova + i * size;
            if (leafAt(s, size)) {
                leaves.remove(s);
            } else if (tables[leafLevel].contains(s)) {
                removeSubtree(leafLevel, s, size);
            } else {
                break;
            }
        }
        return i * size;
    }

    private void removeSubtree(int level, long iova, long size) {
        tables[level].remove(iova);
        for (int l = level + 1; l < 4; l++) {
            tables[l].subSet(iova, iova + size).clear();
        }
        leaves.subMap(iova, iova + size).clear();
    }

    long iovaToPhys(long iova) {
        Map.Entry<Long, long[]> e = leaves.floorEntry(iova);
        if (e == null || iova - e.getKey() >= e.getValue()[0]) {
            return 0;
        }
        return e.getValue()[1] + (iova - e.getKey());
    }
}
