package org.jiommu.pgtable.x86;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;
import org.jiommu.base.Prot;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.MapLoop;

/** Test support: the table configurations under test, and views of a table through its walk. */
final class Tables {
    private Tables() {
    }

    static final long SZ_4K = X86RadixPageTable.SZ_4K;
    static final long SZ_2M = X86RadixPageTable.SZ_2M;
    static final long SZ_1G = X86RadixPageTable.SZ_1G;

    /** A named way to build a table (the configurations of the kernel's KUnit suites). */
    record Kind(String name, Function<FrameAllocator, X86RadixPageTable> factory) {
        X86RadixPageTable make(FrameAllocator a) {
            return factory.apply(a);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** vtdss_kunit_fmt_cfgs and x86_64_kunit_fmt_cfgs. */
    static Stream<Kind> kinds() {
        return Stream.of(
                new Kind("vtdss 39-bit 3-level", a -> VtdSecondLevelPageTable.create(a, 39)),
                new Kind("vtdss 48-bit 4-level", a -> VtdSecondLevelPageTable.create(a, 48)),
                new Kind("vtdss 57-bit 5-level", a -> VtdSecondLevelPageTable.create(a, 57)),
                new Kind("x86_64 48-bit sign-extended", a -> X86FirstLevelPageTable.builder(a).levels(4)
                        .signExtend(true).build()),
                new Kind("x86_64 57-bit sign-extended", a -> X86FirstLevelPageTable.builder(a).levels(5)
                        .signExtend(true).build()),
                new Kind("x86_64 47-bit", a -> X86FirstLevelPageTable.builder(a).levels(4).inputWidth(47).build()),
                new Kind("x86_64 56-bit", a -> X86FirstLevelPageTable.builder(a).levels(5).inputWidth(56).build()));
    }

    static Kind vtd48() {
        return kinds().filter(k -> k.name().startsWith("vtdss 48")).findFirst().orElseThrow();
    }

    static Kind x86Canonical48() {
        return kinds().filter(k -> k.name().startsWith("x86_64 48")).findFirst().orElseThrow();
    }

    /** 512 MiB of memory; the frame allocator gets its top quarter. */
    static FrameAllocator allocator() {
        return new FrameAllocator(new PhysicalMemory(512L << 20));
    }

    /** One descriptor of a walk. */
    record Desc(int level, long iova, long size, long pte, boolean leaf) {
    }

    static List<Desc> descriptors(IoPageTable t) {
        List<Desc> out = new ArrayList<>();
        t.walk((level, iova, size, pte, leaf) -> out.add(new Desc(level, iova, size, pte, leaf)));
        return out;
    }

    static List<Desc> leaves(IoPageTable t) {
        return descriptors(t).stream().filter(Desc::leaf).toList();
    }

    /** Leaf count per leaf size (count_valids per_size). */
    static TreeMap<Long, Integer> leafSizes(IoPageTable t) {
        TreeMap<Long, Integer> m = new TreeMap<>();
        for (Desc d : leaves(t)) {
            m.merge(d.size(), 1, Integer::sum);
        }
        return m;
    }

    static long tableDescriptors(IoPageTable t) {
        return descriptors(t).stream().filter(d -> !d.leaf()).count();
    }

    /** The core's iommu_map through MapLoop with READ|WRITE; returns the errno. */
    static int map(IoPageTable t, long iova, long pa, long size) {
        return MapLoop.map(t, t.pgsizeBitmap(), iova, pa, size, Prot.RW, MapLoop.Listener.NONE).ret();
    }

    /** The core's iommu_unmap through MapLoop; returns bytes unmapped. */
    static long unmap(IoPageTable t, long iova, long size, org.jiommu.pgtable.IotlbGather g) {
        return MapLoop.unmap(t, t.pgsizeBitmap(), iova, size, g, MapLoop.Listener.NONE);
    }

    /** check_iova: every 4K page of the range translates to the matching output page. */
    static void checkIova(IoPageTable t, long iova, long pa, long len) {
        for (long off = 0; off < len; off += SZ_4K) {
            long got = t.iovaToPhys(iova + off);
            if (got != pa + off) {
                throw new AssertionError(String.format("iova_to_phys(%#x) = %#x, expected %#x",
                        iova + off, got, pa + off));
            }
        }
    }
}
