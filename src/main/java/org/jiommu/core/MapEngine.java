package org.jiommu.core;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Hex;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IotlbGathers;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.MapLoop;
import org.jiommu.pgtable.MapPagesOps;
import org.jiommu.pgtable.Mapped;

/**
 * The map/unmap front end (SEMANTICS.md 9): validation, the map and unmap loops of
 * {@link MapLoop} (shared with the page-table replay) over the domain's ops, with the map loop's
 * unroll through a full {@code iommu_unmap}, syncs, gathers and the trace of every driver call. No group lock: like the kernel, concurrent map/unmap of disjoint ranges is allowed
 * and overlapping ones are the caller's bug.
 */
final class MapEngine {
    private final Tracer tracer;

    MapEngine(Tracer tracer) {
        this.tracer = tracer;
    }

    /**
     * The model's own argument check: a usable domain. No prot or wrap-around test: the kernel's
     * iommu_map has none, so unknown prot bits reach the format (which ignores or refuses them)
     * and a range that wraps is refused by the format's own range check (-ERANGE etc.).
     */
    private void validate(IommuDomain d, String fn) {
        Args.requireDomain(d, fn);
    }

    /** {@code iommu_map}. */
    void map(IommuDomain d, long iova, long paddr, long size, int prot) {
        mapNosync(d, iova, paddr, size, prot, true);
        try {
            syncMap(d, iova, size, false);
        } catch (IommuException e) {
            unmapInternal(d, iova, size, true);
            throw e;
        }
    }

    /** {@code iommu_map_nosync}: the checks, the loop, and on error {@code iommu_unmap} of what was mapped. */
    void mapNosync(IommuDomain d, long iova, long paddr, long size, int prot, boolean validate) {
        if (validate) {
            validate(d, "iommu_map");
        }
        if (!d.type().isPaging()) {
            throw Args.err(Errno.EINVAL, "iommu_map: " + d + " is a " + d.type() + " domain, not paging");
        }
        if (d.ops().isIommupt()) {
            mapRange(d, iova, paddr, size, prot);
            return;
        }
        DomainOps.MapPages op = d.ops().mapPages();
        long bitmap = d.pgsizeBitmap();
        if (op == null || bitmap == 0) {
            tracer.warn("iommu_map", d + " has " + (op == null ? "no map_pages op" : "no page sizes"));
            throw Args.err(Errno.ENODEV, "iommu_map: " + d + " cannot map");
        }
        long[] failedAt = {iova};
        long[] unalignedTo = {0};
        MapLoop.Listener listener = new MapLoop.Listener() {
            @Override
            public void unaligned(long minPagesz) {
                unalignedTo[0] = minPagesz;
                tracer.log("iommu_map", String.format("unaligned: iova 0x%x pa 0x%x size 0x%x min_pagesz 0x%x",
                        iova, paddr, size, minPagesz));
            }

            @Override
            public void mapPages(long i, long p, long pgsize, long count, int ret, long bytes) {
                failedAt[0] = i;
                if (tracer.tracing()) {
                    tracer.trace(TraceEvent.Kind.DRIVER, "map_pages", "(" + d + ", " + Hex.of(i) + ", " + Hex.of(p) + ", " + Hex.of(pgsize) + " x " + count
                            + ") = " + Errno.describe(ret) + " mapped " + Hex.of(bytes));
                }
            }

            @Override
            public void noProgress(long i) {
                tracer.warn("iommu_map", d + ": map_pages made no progress at " + String.format("%#x", i));
            }
        };
        // on error iommu_map_nosync unmaps what was mapped with a full iommu_unmap (sync included)
        MapLoop.MapResult r = MapLoop.map(new DomainPages(d), bitmap, iova, paddr, size, prot, listener,
                (i, s) -> unmapInternal(d, i, s, true));
        if (unalignedTo[0] != 0) {
            throw Args.err(Errno.EINVAL, String.format("iommu_map: %s: iova %#x pa %#x size %#x not aligned"
                    + " to the smallest page %#x", d, iova, paddr, size, unalignedTo[0]));
        }
        if (r.ret() != 0) {
            throw Args.driverErr(r.ret(), String.format("map_pages(%s, %#x)", d, failedAt[0]));
        }
    }

    /**
     * iommu_map_nosync for a generic_pt domain ({@code iommupt_from_domain}, 7.1 merge window):
     * {@code map_range} once for the whole range, leaf sizes chosen by the table; no
     * {@code iommu_pgsize} split and no {@code min_pagesz} check (misalignment is the table's
     * -ENXIO). On error {@code iommu_unmap(domain, iova, mapped)}: a full unmap with its sync.
     */
    private void mapRange(IommuDomain d, long iova, long paddr, long size, int prot) {
        if (d.pgsizeBitmap() == 0) {
            tracer.warn("iommu_map", d + " has no page sizes");
            throw Args.err(Errno.EINVAL, "iommu_map: " + d + " has no page sizes");
        }
        Mapped mapped = new Mapped();
        int ret = d.ops().mapRange().mapRange(d, iova, paddr, size, prot, mapped);
        if (tracer.tracing()) {
            tracer.trace(TraceEvent.Kind.DRIVER, "map_range", "(" + d + ", " + Hex.of(iova) + ", " + Hex.of(paddr) + ", "
                    + Hex.of(size) + ") = " + Errno.describe(ret) + " mapped " + Hex.of(mapped.bytes));
        }
        if (ret != 0) {
            unmapInternal(d, iova, mapped.bytes, true);
            throw Args.driverErr(ret, String.format("map_range(%s, %#x, %#x)", d, iova, size));
        }
    }

    /** The domain's {@code map_pages} / {@code unmap_pages} ops as the loops' {@link MapPagesOps}. */
    private static final class DomainPages implements MapPagesOps {
        private final IommuDomain d;

        DomainPages(IommuDomain d) {
            this.d = d;
        }

        @Override
        public int mapPages(long iova, long paddr, long pgsize, long pgcount, int prot, Mapped mapped) {
            return d.ops().mapPages().mapPages(d, iova, paddr, pgsize, pgcount, prot, mapped);
        }

        @Override
        public long unmapPages(long iova, long pgsize, long pgcount, IotlbGather gather) {
            return d.ops().unmapPages().unmapPages(d, iova, pgsize, pgcount, gather);
        }
    }

    /** {@code iommu_sync_map}: 0 without an {@code iotlb_sync_map} op. */
    void syncMap(IommuDomain d, long iova, long size, boolean validate) {
        if (validate) {
            validate(d, "iommu_sync_map");
        }
        DomainOps.IotlbSyncMap op = d.ops().iotlbSyncMap();
        if (op == null) {
            return;
        }
        int ret = op.iotlbSyncMap(d, iova, size);
        if (tracer.tracing()) { // format only for a listener: iommu_dma_map's hot path
            tracer.trace(TraceEvent.Kind.DRIVER, "iotlb_sync_map", "(" + d + ", " + Hex.of(iova) + ", "
                    + Hex.of(size) + ") = " + Errno.describe(ret));
        }
        if (ret != 0) {
            throw Args.driverErr(ret, String.format("iotlb_sync_map(%s, %#x, %#x)", d, iova, size));
        }
    }

    /** {@code iommu_unmap}: the loop, then one {@code iotlb_sync}. */
    long unmap(IommuDomain d, long iova, long size) {
        validate(d, "iommu_unmap");
        return unmapInternal(d, iova, size, true);
    }

    long unmapFast(IommuDomain d, long iova, long size, IotlbGather gather) {
        validate(d, "iommu_unmap_fast");
        if (gather == null) {
            throw Args.err(Errno.EINVAL, "iommu_unmap_fast: gather is null");
        }
        return unmapLoop(d, iova, size, gather);
    }

    private long unmapInternal(IommuDomain d, long iova, long size, boolean sync) {
        IotlbGather gather = new IotlbGather();
        long ret = unmapLoop(d, iova, size, gather);
        if (sync) {
            iotlbSync(d, gather);
        }
        return ret;
    }

    /** {@code __iommu_unmap}. */
    private long unmapLoop(IommuDomain d, long iova, long size, IotlbGather gather) {
        if (!d.type().isPaging()) {
            return 0;
        }
        if (d.ops().isIommupt()) {
            // __iommu_unmap for a generic_pt domain: unmap_range once; it stops at the first hole
            long unmapped = d.ops().unmapRange().unmapRange(d, iova, size, gather);
            if (tracer.tracing()) {
                tracer.trace(TraceEvent.Kind.DRIVER, "unmap_range", "(" + d + ", " + Hex.of(iova) + ", "
                        + Hex.of(size) + ") = " + Hex.of(unmapped));
            }
            return unmapped;
        }
        DomainOps.UnmapPages op = d.ops().unmapPages();
        long bitmap = d.pgsizeBitmap();
        if (op == null || bitmap == 0) {
            tracer.warn("iommu_unmap", d + " has " + (op == null ? "no unmap_pages op" : "no page sizes"));
            return 0;
        }
        MapLoop.Listener listener = new MapLoop.Listener() {
            @Override
            public void unaligned(long minPagesz) {
                tracer.log("iommu_unmap", String.format("unaligned: iova 0x%x size 0x%x min_pagesz 0x%x",
                        iova, size, minPagesz));
            }

            @Override
            public void unmapPages(long i, long pgsize, long count, long unmapped, boolean unroll) {
                if (tracer.tracing()) {
                    tracer.trace(TraceEvent.Kind.DRIVER, "unmap_pages", "(" + d + ", " + Hex.of(i) + ", "
                            + Hex.of(pgsize) + " x " + count + ") = " + Hex.of(unmapped));
                }
            }
        };
        return MapLoop.unmap(new DomainPages(d), bitmap, iova, size, gather, listener);
    }

    /** {@code iommu_map_sg} (SEMANTICS.md 9.4). */
    long mapSg(IommuDomain d, long iova, List<SgEntry> sg, int prot) {
        validate(d, "iommu_map_sg");
        if (sg == null || sg.isEmpty()) {
            throw Args.err(Errno.EINVAL, "iommu_map_sg: empty scatterlist");
        }
        long mapped = 0;
        long start = 0;
        long len = 0;
        try {
            for (int i = 0; i <= sg.size(); i++) {
                // One pass past the end flushes the last run (the kernel re-reads the last entry).
                SgEntry e = sg.get(Math.min(i, sg.size() - 1));
                if (len != 0 && (i == sg.size() || e.paddr() != start + len)) {
                    validate(d, "iommu_map_sg");
                    mapNosync(d, iova + mapped, start, len, prot, false);
                    mapped += len;
                    len = 0;
                }
                if (i == sg.size() || e.busAddress()) {
                    continue;
                }
                if (len != 0) {
                    len += e.length();
                } else {
                    len = e.length();
                    start = e.paddr();
                }
            }
            syncMap(d, iova, mapped, false);
            return mapped;
        } catch (IommuException e) {
            unmapInternal(d, iova, mapped, true);
            throw e;
        }
    }

    long iovaToPhys(IommuDomain d, long iova) {
        if (d.type() == DomainType.IDENTITY) {
            return iova;
        }
        if (d.type() == DomainType.BLOCKED) {
            return 0;
        }
        DomainOps.IovaToPhys op = d.ops().iovaToPhys();
        return op == null ? 0 : op.iovaToPhys(d, iova);
    }

    void flushIotlbAll(IommuDomain d) {
        DomainOps.FlushIotlbAll op = d.ops().flushIotlbAll();
        if (op != null) {
            op.flushIotlbAll(d);
            if (tracer.tracing()) {
                tracer.trace(TraceEvent.Kind.DRIVER, "flush_iotlb_all", "(" + d + ")");
            }
        }
    }

    /** {@code iommu_iotlb_sync}: the op if present, then the gather starts over. */
    void iotlbSync(IommuDomain d, IotlbGather gather) {
        if (gather == null) {
            throw Args.err(Errno.EINVAL, "iommu_iotlb_sync: gather is null");
        }
        DomainOps.IotlbSync op = d.ops().iotlbSync();
        if (op != null) {
            if (tracer.tracing()) {
                tracer.trace(TraceEvent.Kind.DRIVER, "iotlb_sync", "(" + d + ", " + gather + ")");
            }
            op.iotlbSync(d, gather);
        }
        gather.reset();
    }

    /** {@code iommu_iotlb_gather_add_page}: the drivers' helper, traced. */
    void gatherAddPage(IommuDomain d, IotlbGather gather, long iova, long size) {
        if (gather == null) {
            throw Args.err(Errno.EINVAL, "iommu_iotlb_gather_add_page: gather is null");
        }
        if (tracer.tracing()) {
            tracer.trace(TraceEvent.Kind.LOG, "iommu_iotlb_gather_add_page", String.format("(%s, %s, %#x, %#x)",
                    d, gather, iova, size));
        }
        IotlbGathers.addPage(d, gather, iova, size);
    }
}
