package org.jiommu.core.spi;

import java.util.Objects;

/**
 * {@code struct iommu_domain}: an address space devices (or device PASIDs) can be attached to.
 * Compared by identity, like a kernel pointer.
 *
 * <p>Two kinds exist (SEMANTICS.md 2.5):
 * <ul>
 * <li><b>static</b> domains a driver declares for its lifetime ({@code ops.identity_domain},
 *     {@code blocked_domain}, {@code release_domain}, the legacy {@code default_domain}): built
 *     with {@link #staticDomain}, their type fixed, no owner, never freed;</li>
 * <li><b>allocated</b> domains a driver returns from a {@code domain_alloc_*} op: a driver
 *     subclass (the model of a driver struct embedding {@code iommu_domain}); the core then calls
 *     {@link #coreInit} once to set the type and the owner ops ({@code iommu_domain_init}).</li>
 * </ul>
 *
 * <p>Thread safety: fields the core writes are volatile; the core writes them under the group
 * mutex or before the domain is published.
 */
public class IommuDomain {
    private final boolean isStatic;
    private volatile DomainType type;
    private volatile IommuOps owner;
    private volatile DomainOps ops;
    private volatile long pgsizeBitmap;
    private volatile Geometry geometry = Geometry.FULL;
    private volatile CookieType cookieType = CookieType.NONE;
    private volatile String name;
    private volatile boolean initialized;
    private volatile boolean freed;

    /**
     * An allocated domain, before the core initialises it.
     *
     * @param ops the domain ops, or null to take {@code ops.default_domain_ops} at init
     */
    protected IommuDomain(DomainOps ops) {
        this.isStatic = false;
        this.ops = ops;
    }

    private IommuDomain(String name, DomainType type, DomainOps ops) {
        this.isStatic = true;
        this.name = Objects.requireNonNull(name, "name");
        this.type = Objects.requireNonNull(type, "type");
        this.ops = Objects.requireNonNull(ops, "ops");
        this.initialized = true;
    }

    /** A static domain (identity, blocked, release, legacy default): no owner, never freed. */
    public static IommuDomain staticDomain(String name, DomainType type, DomainOps ops) {
        return new IommuDomain(name, type, ops);
    }

    /**
     * {@code iommu_domain_init}: called by the core exactly once on a freshly allocated domain.
     * Sets the type and the owner, falls back to the owner's default domain ops and page sizes
     * where the driver left them unset, and names the domain if the driver did not.
     *
     * @throws IllegalStateException on a static or already initialised domain (a model bug)
     */
    public final void coreInit(DomainType type, IommuOps owner, String defaultName) {
        if (isStatic || initialized) {
            throw new IllegalStateException("iommu_domain_init on " + (isStatic ? "static" : "initialised")
                    + " domain " + this);
        }
        this.type = Objects.requireNonNull(type, "type");
        this.owner = Objects.requireNonNull(owner, "owner");
        if (this.ops == null) {
            this.ops = owner.defaultDomainOps();
        }
        if (pgsizeBitmap == 0) {
            pgsizeBitmap = owner.pgsizeBitmap();
        }
        if (name == null) {
            name = defaultName;
        }
        initialized = true;
    }

    public final boolean isStatic() {
        return isStatic;
    }

    public final boolean isInitialized() {
        return initialized;
    }

    public final DomainType type() {
        return type;
    }

    /**
     * Re-tags a DMA default domain as DMA_FQ in place (the sysfs "DMA-FQ" store path,
     * iommu_group_store_type). Core use only.
     */
    public final void retagType(DomainType newType) {
        if (isStatic) {
            throw new IllegalStateException("cannot retag static domain " + this);
        }
        this.type = Objects.requireNonNull(newType);
    }

    /** The ops that allocated this domain; null for static domains (SEMANTICS.md 2.5). */
    public final IommuOps owner() {
        return owner;
    }

    /** The domain ops; never null once initialised (may be an empty table). */
    public final DomainOps ops() {
        DomainOps o = ops;
        return o == null ? DomainOps.NONE : o;
    }

    public final long pgsizeBitmap() {
        return pgsizeBitmap;
    }

    /** Set by the driver at allocation (the page sizes its page table supports). */
    public final void setPgsizeBitmap(long bitmap) {
        this.pgsizeBitmap = bitmap;
    }

    public final Geometry geometry() {
        return geometry;
    }

    /** Set by the driver at allocation. */
    public final void setGeometry(Geometry geometry) {
        this.geometry = Objects.requireNonNull(geometry);
    }

    public final CookieType cookieType() {
        return cookieType;
    }

    /** Core use: install or release a cookie (DMA-IOVA, fault handler, ...). */
    public final void setCookieType(CookieType cookieType) {
        this.cookieType = Objects.requireNonNull(cookieType);
    }

    /** The name traces and scenarios use ({@code D3}, {@code mock0.blocked}, ...). */
    public final String name() {
        return name;
    }

    /** Renames the domain (scenarios bind their own names). */
    public final void setName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("domain name must not be empty");
        }
        this.name = name;
    }

    public final boolean isFreed() {
        return freed;
    }

    /** Core use: {@code iommu_domain_free} ran; any later use is a use-after-free the core refuses. */
    public final void markFreed() {
        this.freed = true;
    }

    @Override
    public final String toString() {
        String n = name;
        return n != null ? n : "domain@" + Integer.toHexString(System.identityHashCode(this));
    }
}
