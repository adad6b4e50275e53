package org.jiommu.scenario;

import static org.jiommu.scenario.CoreOps.dev;
import static org.jiommu.scenario.CoreOps.domain;

import java.util.Locale;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.Device;
import org.jiommu.core.AttachHandle;
import org.jiommu.core.IommuCore;
import org.jiommu.core.SvaHandle;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.jiommu.pgtable.Mapped;

/**
 * Ops of the PASID-granular core API (SEMANTICS.md 8): PASID attach/replace/detach, the global
 * PASID allocator, per-device features, the 2019 aux-domain API, SVA and the process address
 * spaces it binds. Each kernel call is the one {@link IommuCore} method of the same name.
 */
final class PasidOps {
    private static final Outcome DONE = new Outcome.Returned(null);

    private PasidOps() {
    }

    private static int pasid(StepArgs a) {
        long p = a.number("pasid");
        if (p < 0 || p > 0xffff_ffffL) {
            throw new StepError("PASID " + Numbers.format(p) + " does not fit the 32 bits of an ioasid_t");
        }
        return (int) p;
    }

    private static DevFeature feature(StepArgs a) {
        return DevFeature.valueOf(a.word("feature").toUpperCase(Locale.ROOT));
    }

    // ---- PASID API

    static Outcome attachDevicePasid(Machine m, StepArgs a) {
        m.core.attachDevicePasid(domain(a), dev(m, a), pasid(a));
        return DONE;
    }

    static Outcome detachDevicePasid(Machine m, StepArgs a) {
        m.core.detachDevicePasid(domain(a), dev(m, a), pasid(a));
        return DONE;
    }

    /**
     * iommufd's replace always stores a fresh handle (iommufd_device_pasid_replace allocates the
     * attach handle per HWPT), so the step passes a new one: the core's "same handle" WARN path is
     * not reachable from a scenario, as it is not from iommufd.
     */
    static Outcome replaceDevicePasid(Machine m, StepArgs a) {
        m.core.replaceDevicePasid(domain(a), dev(m, a), pasid(a), new AttachHandle());
        return DONE;
    }

    /** Returns IOMMU_PASID_INVALID (0xffffffff) as the kernel does when none is left. */
    static Outcome allocGlobalPasid(Machine m, StepArgs a) {
        int p = m.core.allocGlobalPasid(dev(m, a));
        return new Outcome.Returned(new Value.Num(Integer.toUnsignedLong(p)));
    }

    static Outcome freeGlobalPasid(Machine m, StepArgs a) {
        m.core.freeGlobalPasid(pasid(a));
        return DONE;
    }

    // ---- features

    static Outcome devHasFeature(Machine m, StepArgs a) {
        return new Outcome.Returned(new Value.Bool(m.core.devHasFeature(dev(m, a), feature(a))));
    }

    static Outcome devFeatureEnabled(Machine m, StepArgs a) {
        return new Outcome.Returned(new Value.Bool(m.core.devFeatureEnabled(dev(m, a), feature(a))));
    }

    static Outcome devEnableFeature(Machine m, StepArgs a) {
        m.core.devEnableFeature(dev(m, a), feature(a));
        return DONE;
    }

    static Outcome devDisableFeature(Machine m, StepArgs a) {
        m.core.devDisableFeature(dev(m, a), feature(a));
        return DONE;
    }

    // ---- aux domains

    static Outcome auxAttachDevice(Machine m, StepArgs a) {
        m.core.auxAttachDevice(domain(a), dev(m, a));
        return DONE;
    }

    static Outcome auxDetachDevice(Machine m, StepArgs a) {
        m.core.auxDetachDevice(domain(a), dev(m, a));
        return DONE;
    }

    static Outcome auxGetPasid(Machine m, StepArgs a) {
        return new Outcome.Returned(new Value.Num(Integer.toUnsignedLong(m.core.auxGetPasid(domain(a), dev(m, a)))));
    }

    static Outcome domainGetAttr(Machine m, StepArgs a) {
        DomainAttr attr = DomainAttr.valueOf(a.word("attr").toUpperCase(Locale.ROOT));
        return new Outcome.Returned(new Value.Num(m.core.domainGetAttr(domain(a), attr)));
    }

    // ---- SVA and process address spaces

    static Outcome svaBindDevice(Machine m, StepArgs a) {
        SvaHandle h = m.core.svaBindDevice(dev(m, a), m.mm(a.word("mm")));
        return new Outcome.Returned(new Value.Handle(h, h.toString()));
    }

    static Outcome svaUnbindDevice(Machine m, StepArgs a) {
        Value v = a.bound("handle");
        if (!(v instanceof Value.Handle h) || !(h.handle() instanceof SvaHandle sh)) {
            throw new StepError("'" + a.word("handle") + "' does not hold an SVA handle");
        }
        m.core.svaUnbindDevice(sh);
        return DONE;
    }

    /** A new process: an mm_struct with an empty 4-level page table in simulated memory. */
    static Outcome mmCreate(Machine m, StepArgs a) {
        m.mmCreate(a.word("name"));
        return DONE;
    }

    /**
     * A VMA whose pages are the given physical ones, populated at once (a VM_PFNMAP mapping such
     * as remap_pfn_range makes): device DMA at the mm's PASID then lands at {@code paddr}, and an
     * access outside the VMAs is a page request the SVA handler answers INVALID. -EINVAL for a
     * range that is not whole pages or not user space, -EEXIST for an overlap (MmStruct.mmap).
     */
    static Outcome mmMap(Machine m, StepArgs a) {
        MmStruct mm = m.mm(a.word("mm"));
        long va = a.number("va");
        long pa = a.number("paddr");
        long size = a.number("size");
        int prot = a.prot("prot");
        if ((pa & 0xfff) != 0) {
            throw new IommuException(Errno.EINVAL, "mm_map: paddr " + Numbers.format(pa) + " is not page aligned");
        }
        if (Long.compareUnsigned(pa + size, m.memory.size()) > 0 || Long.compareUnsigned(pa + size, pa) < 0) {
            throw new IommuException(Errno.EFAULT, "mm_map: " + Numbers.format(pa) + "+" + Numbers.formatSize(size)
                    + " is beyond memory");
        }
        mm.mmap(va, size, prot & (Prot.READ | Prot.WRITE | Prot.NOEXEC));
        long attrs = mm.pgd().userPageAttributes(prot & (Prot.READ | Prot.WRITE | Prot.NOEXEC));
        int r = mm.pgd().mapPagesWithAttributes(va, pa, 4096, size / 4096, attrs, new Mapped());
        if (r != 0) {
            throw new IommuException(Errno.fromCode(-r), "mm_map: the process page table refused "
                    + Numbers.format(va) + "+" + Numbers.formatSize(size));
        }
        return DONE;
    }

    /**
     * {@code mmap} of anonymous memory without MAP_POPULATE: a VMA and no page. A CPU or device
     * access then goes through {@code handle_mm_fault} (for a device: an I/O page fault, when its
     * IOMMU takes them). -EINVAL / -EEXIST as MmStruct.mmap says.
     */
    static Outcome mmMmap(Machine m, StepArgs a) {
        int prot = a.prot("prot");
        m.mm(a.word("mm")).mmap(a.number("va"), a.number("size"), prot & (Prot.READ | Prot.WRITE | Prot.NOEXEC));
        return DONE;
    }

    /** What the process page table maps {@code va} to (0 when the page is not populated). */
    static Outcome mmTranslate(Machine m, StepArgs a) {
        return new Outcome.Returned(new Value.Num(m.mm(a.word("mm")).translate(a.number("va"))));
    }

    // ---- SMMUv2 GPU

    /** The GPU writes its context bank's TTBR0 itself (S10); the IOMMU driver is not told. */
    static Outcome gpuSwitchTtbr0(Machine m, StepArgs a) {
        Device d = dev(m, a);
        try {
            m.unitsOf(d).switchContext(d, a.number("ttbr0"));
        } catch (UnsupportedOperationException e) {
            throw new StepError(e.getMessage());
        }
        return DONE;
    }
}
