package org.jiommu.scenario;

import org.jiommu.bus.Device;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;

/**
 * Ops that are kernel IOMMU core API calls: each is the one {@link org.jiommu.core.IommuCore}
 * method of the same kernel name, with the step's names resolved to the core's objects.
 */
final class CoreOps {
    private static final Outcome DONE = new Outcome.Returned(null);

    private CoreOps() {
    }

    /** The domain a step's {@code domain} argument names (shared by the op classes). */
    static IommuDomain domain(StepArgs a) {
        Value v = a.bound("domain");
        if (v instanceof Value.Domain d && d.domain() instanceof IommuDomain id) {
            return id;
        }
        throw new StepError("'" + a.word("domain") + "' does not hold a domain");
    }

    static Device dev(Machine m, StepArgs a) {
        return m.device(a.word("dev"));
    }

    // ---- domains

    static Outcome pagingDomainAlloc(Machine m, StepArgs a) {
        IommuDomain d = m.core.pagingDomainAlloc(dev(m, a));
        return new Outcome.Returned(new Value.Domain(d, d.name()));
    }

    static Outcome domainFree(Machine m, StepArgs a) {
        m.core.domainFree(domain(a));
        return DONE;
    }

    // ---- attach

    static Outcome attachDevice(Machine m, StepArgs a) {
        m.core.attachDevice(domain(a), dev(m, a));
        return DONE;
    }

    static Outcome detachDevice(Machine m, StepArgs a) {
        m.core.detachDevice(domain(a), dev(m, a));
        return DONE;
    }

    static Outcome attachGroup(Machine m, StepArgs a) {
        m.core.attachGroup(domain(a), m.group(a.word("group")));
        return DONE;
    }

    static Outcome detachGroup(Machine m, StepArgs a) {
        m.core.detachGroup(domain(a), m.group(a.word("group")));
        return DONE;
    }

    static Outcome groupReplaceDomain(Machine m, StepArgs a) {
        m.core.groupReplaceDomain(m.group(a.word("group")), domain(a));
        return DONE;
    }

    // ---- ownership

    static Outcome deviceUseDefaultDomain(Machine m, StepArgs a) {
        m.core.deviceUseDefaultDomain(dev(m, a));
        return DONE;
    }

    static Outcome deviceUnuseDefaultDomain(Machine m, StepArgs a) {
        m.core.deviceUnuseDefaultDomain(dev(m, a));
        return DONE;
    }

    static Outcome groupClaimDmaOwner(Machine m, StepArgs a) {
        m.core.groupClaimDmaOwner(m.group(a.word("group")), m.owner(a.word("owner")));
        return DONE;
    }

    static Outcome groupReleaseDmaOwner(Machine m, StepArgs a) {
        m.core.groupReleaseDmaOwner(m.group(a.word("group")));
        return DONE;
    }

    static Outcome deviceClaimDmaOwner(Machine m, StepArgs a) {
        m.core.deviceClaimDmaOwner(dev(m, a), m.owner(a.word("owner")));
        return DONE;
    }

    static Outcome deviceReleaseDmaOwner(Machine m, StepArgs a) {
        m.core.deviceReleaseDmaOwner(dev(m, a));
        return DONE;
    }

    static Outcome groupDmaOwnerClaimed(Machine m, StepArgs a) {
        return new Outcome.Returned(new Value.Bool(m.core.groupDmaOwnerClaimed(m.group(a.word("group")))));
    }

    // ---- queries

    static Outcome getDomainForDev(Machine m, StepArgs a) {
        Device d = dev(m, a);
        IommuDomain dom = m.core.getDomainForDev(d);
        return new Outcome.Returned(m.showDomain(dom, m.core.groupGet(d)));
    }

    static Outcome groupId(Machine m, StepArgs a) {
        return new Outcome.Returned(new Value.Num(m.group(a.word("dev")).id()));
    }

    // ---- mappings

    static Outcome map(Machine m, StepArgs a) {
        m.core.map(domain(a), a.number("iova"), a.number("paddr"), a.number("size"), a.prot("prot"));
        return DONE;
    }

    static Outcome unmap(Machine m, StepArgs a) {
        return new Outcome.Returned(new Value.Num(m.core.unmap(domain(a), a.number("iova"), a.number("size"))));
    }

    static Outcome iovaToPhys(Machine m, StepArgs a) {
        return new Outcome.Returned(new Value.Num(m.core.iovaToPhys(domain(a), a.number("iova"))));
    }

    static Outcome flushIotlbAll(Machine m, StepArgs a) {
        m.core.flushIotlbAll(domain(a));
        return DONE;
    }
}
