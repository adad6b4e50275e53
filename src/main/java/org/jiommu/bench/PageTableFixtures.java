package org.jiommu.bench;

import java.util.function.Function;
import java.util.function.Supplier;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.mem.PhysicalMemory;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
import org.jiommu.pgtable.x86.X86FirstLevelPageTable;

/**
 * The page-table cases, the same for every format and the same as the kernel measurement
 * (and src/jmh's ArmLpaeBench / VtdPgtableBench): a table whose intermediate tables already
 * exist, so single-page maps and unmaps only touch leaves; 100 000 sequential 4K pages, 390
 * calls of 256 x 4K (half a leaf table each), 2048 2M leaves, iova_to_phys on the mapped pages.
 * Figures are per call.
 */
final class PageTableFixtures {
    static final int PAGES = 100_000;
    static final int CHUNK = 256;
    static final int CHUNKS = PAGES / CHUNK;
    static final int BLOCKS = 4 * 512;
    static final long SZ_4K = 1L << 12;
    static final long SZ_2M = 1L << 21;
    static final long PAGE_BASE = 0x40_0000_0000L;  // 256 GiB
    static final long BLOCK_BASE = 0x80_0000_0000L; // 512 GiB
    /**
     * Output of the 4K pages: only 4K-aligned, so a 512-page run is never one 2M leaf (the VT-d
     * and x86 formats install a 2M leaf for an aligned run, and the case would then measure a
     * 3-level table).
     */
    static final long PA_BASE = 0x1_0000_1000L;
    /** Output of the 2M leaves. */
    static final long BLOCK_PA = 0x1_0000_0000L;
    /** Simulated memory per fixture; page tables come from its top quarter (sparse: costs only what is used). */
    static final long MEMORY = 8L << 30;

    private PageTableFixtures() {
    }

    /** The table formats measured, each a factory over a fresh frame allocator. */
    enum Format {
        ARM_LPAE_S1("arm-lpae-s1", "ARM LPAE stage 1, 4K granule, 48-bit", frames -> ArmLpaePageTable.alloc(
                ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1).pgsizeBitmap(SZ_4K | SZ_2M | (1L << 30))
                        .ias(48).oas(48).quirks(ArmLpaeConfig.QUIRK_NO_WARN).build(),
                frames, TlbOps.NONE, WarningSink.IGNORE)),
        VTD_SL("vtd-sl", "VT-d second level, 48-bit (4 levels)", frames -> VtdSecondLevelPageTable.create(frames, 48)),
        X86_FL("x86-fl", "x86-64 first level (VT-d first stage), 4 levels", frames -> X86FirstLevelPageTable.create(frames, 4));

        final String id;
        final String title;
        final Function<FrameAllocator, IoPageTable> factory;

        Format(String id, String title, Function<FrameAllocator, IoPageTable> factory) {
            this.id = id;
            this.title = title;
            this.factory = factory;
        }
    }

    /** What a batch does; each operation's state before the batch is restored by {@link Table#prepare}. */
    enum Op {
        MAP_4K("map-4k", "one 4K page per map call, tables present", PAGES, false),
        UNMAP_4K("unmap-4k", "one 4K page per unmap call", PAGES, true),
        MAP_256X4K("map-256x4k", "256 x 4K pages per map call", CHUNKS, false),
        UNMAP_256X4K("unmap-256x4k", "256 x 4K pages per unmap call", CHUNKS, true),
        MAP_2M("map-2m", "one 2M leaf per map call", BLOCKS, false),
        IOVA_TO_PHYS("iova-to-phys", "iova_to_phys of a mapped 4K page", PAGES, true);

        final String id;
        final String what;
        final int ops;
        /** The batch needs every 4K page mapped (else: no leaf at all). */
        final boolean needsPages;

        Op(String id, String what, int ops, boolean needsPages) {
            this.id = id;
            this.what = what;
            this.ops = ops;
            this.needsPages = needsPages;
        }
    }

    static Supplier<Fixture> fixture(Format format, Op op) {
        return () -> new Table(format, op);
    }

    /** One table of one format measured for one operation. */
    static final class Table implements Fixture {
        private final Op op;
        private final IoPageTable table;
        private final Mapped mapped = new Mapped();
        /**
         * What unmap is handed: null for ARM, as io-pgtable-arm's own measurement and
         * ArmLpaeBench (no TLB work gathered); a gather for VT-d / x86, as VtdPgtableBench and
         * the generic_pt measurement.
         */
        private final IotlbGather gather;
        /** What the leaves hold now: the 4K pages and the 2M leaves. */
        private boolean pagesMapped;
        private boolean blocksMapped;

        Table(Format format, Op op) {
            this.op = op;
            this.table = format.factory.apply(new FrameAllocator(new PhysicalMemory(MEMORY)));
            this.gather = format == Format.ARM_LPAE_S1 ? null : new IotlbGather();
            // Build every intermediate table once, leaving the leaves empty (unmapping page by
            // page frees no table in any of the formats).
            mapPages();
            unmapPagesOneByOne();
            mapBlocks();
            unmapBlocks();
        }

        /** The table measured (for the tests' checks of its shape). */
        IoPageTable table() {
            return table;
        }

        @Override
        public int opsPerBatch() {
            return op.ops;
        }

        @Override
        public void prepare() {
            resetGather();
            if (blocksMapped) {
                unmapBlocks();
            }
            if (op.needsPages && !pagesMapped) {
                if (op == Op.UNMAP_256X4K) {
                    unmapTail(); // the last batch unmapped whole chunks only
                }
                mapPages();
            } else if (!op.needsPages && pagesMapped) {
                unmapPagesOneByOne();
            }
            if (op == Op.IOVA_TO_PHYS) {
                return; // the batch changes nothing
            }
            // After this batch the leaves are in the opposite state.
            pagesMapped = op == Op.MAP_4K || op == Op.MAP_256X4K;
            blocksMapped = op == Op.MAP_2M;
        }

        @Override
        public long batch() {
            IoPageTable t = table;
            long sum = 0;
            switch (op) {
                case MAP_4K -> {
                    for (int i = 0; i < PAGES; i++) {
                        sum += t.mapPages(PAGE_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, 1, Prot.RW, mapped);
                    }
                }
                case UNMAP_4K -> {
                    for (int i = 0; i < PAGES; i++) {
                        sum += t.unmapPages(PAGE_BASE + i * SZ_4K, SZ_4K, 1, gather);
                    }
                }
                case MAP_256X4K -> {
                    for (int c = 0; c < CHUNKS; c++) {
                        long off = c * CHUNK * SZ_4K;
                        sum += t.mapPages(PAGE_BASE + off, PA_BASE + off, SZ_4K, CHUNK, Prot.RW, mapped);
                    }
                }
                case UNMAP_256X4K -> {
                    for (int c = 0; c < CHUNKS; c++) {
                        sum += t.unmapPages(PAGE_BASE + c * CHUNK * SZ_4K, SZ_4K, CHUNK, gather);
                    }
                }
                case MAP_2M -> {
                    for (int b = 0; b < BLOCKS; b++) {
                        sum += t.mapPages(BLOCK_BASE + b * SZ_2M, BLOCK_PA + b * SZ_2M, SZ_2M, 1, Prot.RW, mapped);
                    }
                }
                case IOVA_TO_PHYS -> {
                    for (int i = 0; i < PAGES; i++) {
                        sum += t.iovaToPhys(PAGE_BASE + i * SZ_4K + 0x123);
                    }
                }
                default -> throw new IllegalStateException(op.toString());
            }
            return sum;
        }

        private void mapPages() {
            for (int i = 0; i < PAGES; i += 512) {
                long n = Math.min(512, PAGES - i);
                mapped.reset();
                check(table.mapPages(PAGE_BASE + i * SZ_4K, PA_BASE + i * SZ_4K, SZ_4K, n, Prot.RW, mapped) == 0
                        && mapped.bytes == n * SZ_4K, "map 4K pages");
            }
            pagesMapped = true;
        }

        /** Page by page, holes allowed (a 256-page batch leaves the tail of the range unmapped). */
        private void unmapPagesOneByOne() {
            for (int i = 0; i < PAGES; i++) {
                table.unmapPages(PAGE_BASE + i * SZ_4K, SZ_4K, 1, gather);
            }
            resetGather();
            pagesMapped = false;
        }

        /** The pages after the last whole 256-page chunk. */
        private void unmapTail() {
            for (int i = CHUNKS * CHUNK; i < PAGES; i++) {
                table.unmapPages(PAGE_BASE + i * SZ_4K, SZ_4K, 1, gather);
            }
            resetGather();
        }

        private void mapBlocks() {
            for (int b = 0; b < BLOCKS; b++) {
                check(table.mapPages(BLOCK_BASE + b * SZ_2M, BLOCK_PA + b * SZ_2M, SZ_2M, 1, Prot.RW, mapped) == 0,
                        "map 2M");
            }
            blocksMapped = true;
        }

        private void unmapBlocks() {
            for (int b = 0; b < BLOCKS; b++) {
                table.unmapPages(BLOCK_BASE + b * SZ_2M, SZ_2M, 1, gather);
            }
            resetGather();
            blocksMapped = false;
        }

        /** Unmaps only gather what they freed (nothing here); keep the gather from growing across batches. */
        private void resetGather() {
            if (table instanceof org.jiommu.pgtable.x86.X86RadixPageTable x) {
                x.releaseFreelist(gather);
                gather.reset();
            }
        }

        @Override
        public void close() {
            table.free();
        }

        private static void check(boolean ok, String what) {
            if (!ok) {
                throw new IllegalStateException("benchmark set-up failed: " + what);
            }
        }
    }
}
