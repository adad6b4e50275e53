package org.jiommu.core;

import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.CookieType;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;

/**
 * A domain's life in the core (SEMANTICS.md 2.5, 3): the choice of the driver's alloc op,
 * {@code iommu_domain_init} with the live-domain bookkeeping, the identity-domain lookup and
 * {@code iommu_domain_free}. Every engine that allocates or frees a domain goes through here.
 */
final class DomainLifecycle {
    static final String NAME_PREFIX = "D";

    private final Tracer tracer;
    private final CoreRegistry registry;
    private final IopfEngine iopf;
    private final AtomicLong domainSeq = new AtomicLong();

    DomainLifecycle(Tracer tracer, CoreRegistry registry, IopfEngine iopf) {
        this.tracer = tracer;
        this.registry = registry;
        this.iopf = iopf;
    }

    /** {@code iommu_domain_init} plus the core's bookkeeping of live domains. */
    void init(IommuDomain d, DomainType type, IommuOps ops) {
        if (d.isStatic()) {
            tracer.warn("iommu_domain_init", "driver " + ops + " returned static domain " + d + " from an alloc op");
            throw Args.err(Errno.EINVAL, "driver " + ops + " returned static domain " + d + " from an alloc op");
        }
        d.coreInit(type, ops, NAME_PREFIX + domainSeq.incrementAndGet());
        registry.addLiveDomain(d);
        tracer.trace(TraceEvent.Kind.LOG, "iommu_domain_alloc", d + " type " + type + " by " + ops);
    }

    /** {@code __iommu_paging_domain_alloc_flags}: the op choice of SEMANTICS.md 3. */
    IommuDomain allocPaging(Device dev, DomainType type, int flags) {
        DevIommu di = registry.devIommuOf(dev);
        if (di == null || di.iommuDev == null) {
            throw Args.err(Errno.ENODEV, dev + " has no IOMMU");
        }
        IommuOps ops = di.ops();
        IommuDomain d;
        String op;
        if (ops.domainAllocPaging() != null && flags == 0) {
            op = "domain_alloc_paging";
            d = driverAlloc(op, dev, () -> ops.domainAllocPaging().domainAllocPaging(dev));
        } else if (ops.domainAllocPagingFlags() != null) {
            op = "domain_alloc_paging_flags";
            d = driverAlloc(op, dev, () -> ops.domainAllocPagingFlags().domainAllocPagingFlags(dev, flags));
        } else {
            throw Args.err(Errno.EOPNOTSUPP, "driver " + ops + " cannot allocate a paging domain with flags "
                    + String.format("%#x", flags) + " for " + dev);
        }
        if (d == null) {
            throw Args.err(Errno.ENOMEM, "driver " + ops + " " + op + " for " + dev + " returned NULL");
        }
        init(d, type, ops);
        return d;
    }

    /** Calls a pointer-returning driver op, tracing it; an ERR_PTR comes back as IommuException. */
    IommuDomain driverAlloc(String op, Device dev, Supplier<IommuDomain> body) {
        try {
            IommuDomain d = body.get();
            tracer.trace(TraceEvent.Kind.DRIVER, op, "(" + dev + ") = " + d);
            return d;
        } catch (IommuException e) {
            tracer.trace(TraceEvent.Kind.DRIVER, op, "(" + dev + ") = " + e.errno().neg() + "(" + e.errno() + ")");
            throw e;
        }
    }

    /** {@code __iommu_alloc_identity_domain}. */
    IommuDomain allocIdentity(Device dev) {
        IommuOps ops = registry.devIommuOf(dev).ops();
        if (ops.identityDomain() != null) {
            return ops.identityDomain(); // static: returned as is, not initialised
        }
        if (ops.domainAllocIdentity() == null) {
            throw Args.err(Errno.EOPNOTSUPP, "driver " + ops + " has no identity domain for " + dev);
        }
        IommuDomain d = driverAlloc("domain_alloc_identity", dev, () -> ops.domainAllocIdentity().domainAllocIdentity(dev));
        if (d == null) {
            throw Args.err(Errno.ENOMEM, "driver " + ops + " domain_alloc_identity for " + dev + " returned NULL");
        }
        init(d, DomainType.IDENTITY, ops);
        return d;
    }

    /**
     * {@code iommu_domain_free}: release the cookie, call the driver's free. Static domains have
     * no free op, so freeing one changes nothing (I-STATIC).
     */
    void free(IommuDomain d) {
        if (d == null || d.isStatic() || d.isFreed()) {
            return;
        }
        d.setCookieType(CookieType.NONE);
        iopf.clearHandler(d);
        DomainOps.Free f = d.ops().free();
        if (f != null) {
            f.free(d);
            tracer.trace(TraceEvent.Kind.DRIVER, "free", "(" + d + ")");
        }
        d.markFreed();
        registry.removeLiveDomain(d);
    }

    /**
     * The public {@code iommu_domain_free}. The kernel's is void and trusts its caller: freeing a
     * domain still in use is a use-after-free in waiting. The model records that as a WARN naming
     * the user and frees nothing (no errno: the kernel has none to give); -EINVAL is left for
     * what cannot be a domain to free at all (null, never initialised, already freed, static).
     *
     * @param isAux whether a domain is attached as an aux domain
     */
    void freeChecked(IommuDomain d, Predicate<IommuDomain> isAux) {
        if (d == null) {
            throw Args.err(Errno.EINVAL, "iommu_domain_free: domain is null");
        }
        if (d.isStatic()) {
            throw Args.err(Errno.EINVAL, "iommu_domain_free: " + d + " is a static domain of its driver");
        }
        Args.requireDomain(d, "iommu_domain_free");
        String user = user(d, isAux.test(d));
        if (user != null) {
            tracer.warn("iommu_domain_free", d + " is still in use (" + user
                    + "): freeing it would leave a use-after-free; not freed");
            return;
        }
        free(d);
    }

    /**
     * Installs {@code h} as {@code d}'s fault handler (null removes it): only while the domain is
     * in use nowhere (-EBUSY), as drivers enable IOPF for what they see at attach time; -EINVAL
     * for static and SVA domains.
     *
     * @param isAux whether a domain is attached as an aux domain
     */
    void setIopfHandler(IommuDomain d, IopfHandler h, Predicate<IommuDomain> isAux) {
        Args.requireDomain(d, "iommu_domain_set_iopf_handler");
        if (d.isStatic() || d.type() == DomainType.SVA) {
            throw Args.err(Errno.EINVAL, "iommu_domain_set_iopf_handler: " + d + " is a " + (d.isStatic()
                    ? "static" : "SVA") + " domain");
        }
        String user = user(d, isAux.test(d));
        if (user != null) {
            throw Args.err(Errno.EBUSY, "iommu_domain_set_iopf_handler: " + d + " is in use: " + user);
        }
        iopf.setHandler(d, h);
    }

    /** {@code domain_iommu_ops_compatible} (v6.16+: static blocked/identity domains qualify). */
    static boolean opsCompatible(IommuOps ops, IommuDomain d) {
        return d.owner() == ops || d == ops.blockedDomain() || d == ops.identityDomain();
    }

    /**
     * Where a domain is still in use, or null if nowhere: what the model's {@code domainFree} and
     * the IOPF-handler setter refuse with -EBUSY.
     *
     * @param aux the domain is attached as an aux domain
     */
    String user(IommuDomain d, boolean aux) {
        if (aux) {
            return "it is attached as an aux domain";
        }
        for (IommuGroup g : registry.liveGroups()) {
            if (g.domain == d) {
                return g + " is attached to it";
            }
            if (g.defaultDomain == d) {
                return "it is the default domain of " + g;
            }
            if (g.blockingDomain == d) {
                return "it is the blocking domain of " + g;
            }
            for (Map.Entry<Integer, PasidEntry> e : g.pasidArray.entrySet()) {
                if (e.getValue().domain() == d) {
                    return g + " has it at PASID " + e.getKey();
                }
            }
        }
        return null;
    }
}
