package org.jiommu.scenario;

import static org.jiommu.scenario.ArgSpec.opt;
import static org.jiommu.scenario.ArgSpec.req;
import static org.jiommu.scenario.ArgType.DEVICE;
import static org.jiommu.scenario.ArgType.DIR;
import static org.jiommu.scenario.ArgType.DOMAIN;
import static org.jiommu.scenario.ArgType.GROUP;
import static org.jiommu.scenario.ArgType.NUMBER;
import static org.jiommu.scenario.ArgType.TOKEN;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.dma.DmaDirection;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.dma.DmaInvariants;
import org.jiommu.dma.DmaIommu;
import org.jiommu.dma.MsiCookie;
import org.jiommu.dma.ScatterList;
import org.jiommu.dma.SimClock;

/**
 * The DMA API ops ({@code org.jiommu.dma} above the core): one {@link DmaIommu} per machine,
 * made on the first DMA API step, on a simulated clock that only {@code time_advance} moves.
 * The layer's per-CPU state is CPU 0's (steps run one at a time).
 */
final class DmaOps {
    private DmaOps() {
    }

    /** The DMA layer of each machine, and what scatterlist / coherent steps handed out. */
    private static final class State {
        final DmaIommu dma;
        final Map<String, ScatterList> sgs = new java.util.HashMap<>();
        final Map<String, DmaIommu.Coherent> coherent = new java.util.HashMap<>();

        State(Machine m) {
            dma = new DmaIommu(m.core, m.memory, new SimClock(), DmaIommu.Config.defaults(m.memory.size(), 2));
        }
    }

    private static final Map<Machine, State> STATES = new WeakHashMap<>();

    /** The ops whose step may expect {@code dma-mapping-error}. */
    static final List<String> MAPPING_OPS = List.of("dma_map_single", "dma_map_sg", "dma_alloc_coherent");

    /** The DMA API section of the op catalogue, in the order {@code jiommu ops} lists it. */
    static void catalog(List<OpSpec> l, String s) {
        l.add(op("iommu_group_store_type", s, ResultKind.NONE,
                "sysfs: write the group's type file (DMA-FQ makes a bound group lazy, as root may)",
                req("group", GROUP), req("type", TOKEN)));
        l.add(op("dma_set_mask", s, ResultKind.NONE, "DMA API: the device's DMA mask (-EIO if refused)",
                req("dev", DEVICE), req("mask", NUMBER)));
        l.add(op("dma_map_single", s, ResultKind.NUMBER,
                "DMA API: map a buffer for dev in its default domain; returns the dma address (bounced if untrusted)",
                req("dev", DEVICE), req("paddr", NUMBER), req("size", NUMBER), req("dir", DIR)));
        l.add(op("dma_unmap_single", s, ResultKind.NONE,
                "DMA API: unmap a buffer (strict: invalidated now; dma-fq: freed after the next flush)",
                req("dev", DEVICE), req("iova", NUMBER), req("size", NUMBER), req("dir", DIR)));
        l.add(op("dma_map_sg", s, ResultKind.NUMBER,
                "DMA API: map count segments of size bytes, stride apart from paddr, as one merged IOVA range; "
                        + "returns the first DMA segment's address",
                req("dev", DEVICE), req("paddr", NUMBER), req("size", NUMBER), req("count", NUMBER),
                opt("stride", NUMBER), req("dir", DIR)));
        l.add(op("dma_unmap_sg", s, ResultKind.NONE, "DMA API: unmap the scatterlist mapped at iova",
                req("dev", DEVICE), req("iova", NUMBER), req("dir", DIR)));
        l.add(op("dma_alloc_coherent", s, ResultKind.NUMBER,
                "DMA API: zeroed pages mapped for dev; returns the dma handle", req("dev", DEVICE), req("size", NUMBER)));
        l.add(op("dma_free_coherent", s, ResultKind.NONE, "DMA API: unmap and free a coherent buffer",
                req("dev", DEVICE), req("iova", NUMBER), req("size", NUMBER)));
        l.add(op("dma_sync_single_for_cpu", s, ResultKind.NONE,
                "DMA API: hand the buffer to the CPU (a bounce buffer is copied back)",
                req("dev", DEVICE), req("iova", NUMBER), req("size", NUMBER), req("dir", DIR)));
        l.add(op("dma_sync_single_for_device", s, ResultKind.NONE,
                "DMA API: hand the buffer to the device (the CPU's data is copied to the bounce buffer)",
                req("dev", DEVICE), req("iova", NUMBER), req("size", NUMBER), req("dir", DIR)));
        l.add(op("dma_fq_flush", s, ResultKind.NONE,
                "DMA API: flush the device's DMA-FQ domain now and free the queued IOVAs", req("dev", DEVICE)));
        l.add(op("dma_prepare_msi", s, ResultKind.NUMBER,
                "MSI: the address dev writes its MSI to for the doorbell at physical addr (iommu_dma_prepare_msi:"
                        + " the doorbell page mapped once in its DMA domain, or the MSI cookie's window; addr itself"
                        + " when the domain translates nothing)",
                req("dev", DEVICE), req("addr", NUMBER)));
        l.add(op("iommu_get_msi_cookie", s, ResultKind.NONE,
                "MSI: give an unmanaged domain MSI doorbell pages from IOVA base up (VFIO: the IOMMU's SW_MSI"
                        + " window; -EINVAL for a domain that is not unmanaged, -ENODEV for a second cookie)",
                req("domain", DOMAIN), req("base", NUMBER)));
        l.add(op("time_advance", s, ResultKind.NONE,
                "move the simulated clock on (flush-queue 10 ms timeout, IOVA depot trim)", req("ms", NUMBER)));
    }

    private static OpSpec op(String name, String section, ResultKind result, String meaning, ArgSpec... args) {
        return new OpSpec(name, section, result, meaning, List.of(args));
    }

    /** One line per op, as Wiring does for the others. */
    static void wire(Map<String, OpSpec> ops) {
        ops.get("iommu_group_store_type").run(DmaOps::groupStoreType);
        ops.get("dma_set_mask").run(DmaOps::setMask);
        ops.get("dma_map_single").run(DmaOps::mapSingle);
        ops.get("dma_unmap_single").run(DmaOps::unmapSingle);
        ops.get("dma_map_sg").run(DmaOps::mapSg);
        ops.get("dma_unmap_sg").run(DmaOps::unmapSg);
        ops.get("dma_alloc_coherent").run(DmaOps::allocCoherent);
        ops.get("dma_free_coherent").run(DmaOps::freeCoherent);
        ops.get("dma_sync_single_for_cpu").run(DmaOps::syncForCpu);
        ops.get("dma_sync_single_for_device").run(DmaOps::syncForDevice);
        ops.get("dma_fq_flush").run(DmaOps::fqFlush);
        ops.get("dma_prepare_msi").run(DmaOps::prepareMsi);
        ops.get("iommu_get_msi_cookie").run(DmaOps::getMsiCookie);
        ops.get("time_advance").run(DmaOps::timeAdvance);
    }

    private static State state(Machine m) {
        synchronized (STATES) {
            State s = STATES.computeIfAbsent(m, State::new);
            s.dma.bindCpu(0);
            return s;
        }
    }

    /** The machine's DMA layer if a DMA API step made one (the invariant check), else null. */
    static DmaIommu dmaOf(Machine m) {
        synchronized (STATES) {
            State s = STATES.get(m);
            return s == null ? null : s.dma;
        }
    }

    /** The DMA API's invariants D1-D4 when the scenario used it. */
    static List<String> violations(Machine m) {
        DmaIommu dma = dmaOf(m);
        return dma == null ? List.of() : DmaInvariants.check(m.core, dma);
    }

    private static DmaDirection dir(StepArgs a) {
        return DmaDirection.of(a.word("dir"));
    }

    private static Outcome address(long a) {
        return a == DmaIommu.DMA_MAPPING_ERROR ? new Outcome.MappingError() : new Outcome.Returned(new Value.Num(a));
    }

    /** A void DMA API call: a WARN of the layer (unmapping what is not mapped) shows as warn. */
    private static Outcome voidCall(State s, Runnable call) {
        int mark = s.dma.warnings().size();
        call.run();
        List<String> w = s.dma.warnings();
        return w.size() > mark ? new Outcome.Warned(w.subList(mark, w.size())) : new Outcome.Returned(null);
    }

    private static String key(Device dev, long iova) {
        return dev.name() + "@" + iova;
    }

    static Outcome mapSingle(Machine m, StepArgs a) {
        State s = state(m);
        return address(s.dma.dmaMapSingle(m.device(a.word("dev")), a.number("paddr"), a.number("size"), dir(a)));
    }

    static Outcome unmapSingle(Machine m, StepArgs a) {
        State s = state(m);
        Device dev = m.device(a.word("dev"));
        return voidCall(s, () -> s.dma.dmaUnmapSingle(dev, a.number("iova"), a.number("size"), dir(a)));
    }

    /**
     * {@code dma_map_sg} of {@code count} segments of {@code size} bytes, {@code stride} bytes
     * apart from {@code paddr}; returns the first DMA segment's address ({@code sg_dma_address}),
     * dma-mapping-error when {@code dma_map_sg} returns 0.
     */
    static Outcome mapSg(Machine m, StepArgs a) {
        State s = state(m);
        Device dev = m.device(a.word("dev"));
        long count = a.number("count");
        long size = a.number("size");
        long stride = a.has("stride") ? a.number("stride") : size;
        if (count < 1 || count > 4096 || size < 1) {
            throw new StepError("dma_map_sg: 1 to 4096 segments of at least one byte");
        }
        List<long[]> segs = new ArrayList<>();
        for (long i = 0; i < count; i++) {
            segs.add(new long[] {a.number("paddr") + i * stride, size});
        }
        ScatterList sg = new ScatterList(segs);
        int n = s.dma.dmaMapSg(dev, sg, dir(a));
        if (n == 0) {
            return new Outcome.MappingError();
        }
        s.sgs.put(key(dev, sg.dmaAddress(0)), sg);
        return new Outcome.Returned(new Value.Num(sg.dmaAddress(0)));
    }

    static Outcome unmapSg(Machine m, StepArgs a) {
        State s = state(m);
        Device dev = m.device(a.word("dev"));
        ScatterList sg = s.sgs.remove(key(dev, a.number("iova")));
        if (sg == null) {
            throw new StepError("dma_unmap_sg: no scatterlist of " + dev.name() + " was mapped at "
                    + Numbers.format(a.number("iova")));
        }
        return voidCall(s, () -> s.dma.dmaUnmapSg(dev, sg, dir(a)));
    }

    static Outcome allocCoherent(Machine m, StepArgs a) {
        State s = state(m);
        Device dev = m.device(a.word("dev"));
        DmaIommu.Coherent c = s.dma.dmaAllocCoherent(dev, a.number("size"));
        if (c == null) {
            return new Outcome.MappingError();
        }
        s.coherent.put(key(dev, c.dmaHandle()), c);
        return new Outcome.Returned(new Value.Num(c.dmaHandle()));
    }

    static Outcome freeCoherent(Machine m, StepArgs a) {
        State s = state(m);
        Device dev = m.device(a.word("dev"));
        DmaIommu.Coherent c = s.coherent.remove(key(dev, a.number("iova")));
        if (c == null) {
            throw new StepError("dma_free_coherent: " + dev.name() + " has no coherent buffer at "
                    + Numbers.format(a.number("iova")));
        }
        return voidCall(s, () -> s.dma.dmaFreeCoherent(dev, a.number("size"), c));
    }

    static Outcome syncForCpu(Machine m, StepArgs a) {
        State s = state(m);
        s.dma.dmaSyncSingleForCpu(m.device(a.word("dev")), a.number("iova"), a.number("size"), dir(a));
        return new Outcome.Returned(null);
    }

    static Outcome syncForDevice(Machine m, StepArgs a) {
        State s = state(m);
        s.dma.dmaSyncSingleForDevice(m.device(a.word("dev")), a.number("iova"), a.number("size"), dir(a));
        return new Outcome.Returned(null);
    }

    /** {@code dma_fq_flush}: the flush-queue timeout's work now; -EINVAL if the device's domain has no flush queue. */
    static Outcome fqFlush(Machine m, StepArgs a) {
        State s = state(m);
        Device dev = m.device(a.word("dev"));
        if (!s.dma.fqFlush(dev)) {
            return new Outcome.Failed(Errno.EINVAL, dev.name() + "'s DMA domain has no flush queue (strict)");
        }
        return new Outcome.Returned(null);
    }

    static Outcome timeAdvance(Machine m, StepArgs a) {
        long ms = a.number("ms");
        if (ms < 0 || ms > 3_600_000) {
            throw new StepError("time_advance: 0 to 3600000 ms");
        }
        state(m).dma.clock().advance(ms);
        return new Outcome.Returned(null);
    }

    /**
     * {@code iommu_dma_prepare_msi} then {@code iommu_dma_compose_msi_msg}: the MSI address the
     * device is given for the doorbell at physical {@code addr}; -ENOMEM when no IOVA is left for
     * the doorbell page (the irqchip then fails the MSI allocation).
     */
    static Outcome prepareMsi(Machine m, StepArgs a) {
        State s = state(m);
        long addr = a.number("addr");
        if (addr < 0 || addr >= m.memory.size()) {
            throw new StepError("dma_prepare_msi: doorbell " + Numbers.format(addr) + " is beyond memory ("
                    + Numbers.formatSize(m.memory.size()) + ")");
        }
        return new Outcome.Returned(new Value.Num(s.dma.dmaPrepareMsi(m.device(a.word("dev")), addr)));
    }

    /** {@code iommu_get_msi_cookie} on an unmanaged domain (what VFIO does with the SW_MSI base). */
    static Outcome getMsiCookie(Machine m, StepArgs a) {
        state(m).dma.getMsiCookie(CoreOps.domain(a), a.number("base"));
        return new Outcome.Returned(null);
    }

    /**
     * The doorbell pages the DMA layer mapped in the domains of {@code devices} (hw_dump), one line
     * each with what the domain's page table holds at that IOVA; empty when there are none.
     */
    static String msiPages(Machine m, List<Device> devices, java.util.function.Function<IommuDomain, String> label) {
        DmaIommu dma = dmaOf(m);
        if (dma == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        java.util.Set<IommuDomain> seen = new java.util.HashSet<>();
        for (Device dev : devices) {
            IommuDomain d = m.core.getDomainForDev(dev);
            if (d == null || !seen.add(d)) {
                continue;
            }
            for (MsiCookie.MsiPage p : dma.msiPages(d)) {
                long pa = m.core.iovaToPhys(d, p.iova());
                sb.append(String.format("  MSI doorbell page of %s: IOVA %s -> %s (page table: %s)%n", label.apply(d),
                        Numbers.format(p.iova()), Numbers.format(p.phys()),
                        pa == 0 ? "unmapped" : Numbers.format(pa)));
            }
        }
        return sb.toString();
    }

    /** {@code iommu_group_store_type} with CAP_SYS_ADMIN. */
    static Outcome groupStoreType(Machine m, StepArgs a) {
        m.core.groupStoreType(m.group(a.word("group")), a.word("type"), true);
        return new Outcome.Returned(null);
    }

    static Outcome setMask(Machine m, StepArgs a) {
        State s = state(m);
        int ret = s.dma.dmaSetMask(m.device(a.word("dev")), a.number("mask"));
        return ret == 0 ? new Outcome.Returned(null) : new Outcome.Failed(Errno.fromCode(-ret), "dma_set_mask refused");
    }
}
