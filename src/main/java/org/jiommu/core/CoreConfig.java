package org.jiommu.core;

/**
 * Boot-time configuration of the IOMMU core: the kernel command line, the build options that
 * decide the global default domain type (iommu_subsys_init, SEMANTICS.md 2.1) and the behaviour
 * version. Immutable; build with {@link #builder()}.
 *
 * @param version which kernel's behaviour to follow (default {@link KernelVersion#V7_0})
 * @param cmdlinePassthrough {@code iommu.passthrough=} if given on the command line, else null
 * @param cmdlineStrict {@code iommu.strict=} if given on the command line, else null
 * @param defaultPassthrough CONFIG_IOMMU_DEFAULT_PASSTHROUGH
 * @param defaultStrict CONFIG_IOMMU_DEFAULT_DMA_STRICT
 * @param memEncrypt the platform has memory encryption (forces DMA over a build-default passthrough)
 * @param iommuDma CONFIG_IOMMU_DMA: the DMA-API layer exists (without it a DMA default is refused)
 * @param armDmaUseIommu ARM32 CONFIG_ARM_DMA_USE_IOMMU: group type folding starts at IDENTITY
 */
public record CoreConfig(KernelVersion version, Boolean cmdlinePassthrough, Boolean cmdlineStrict,
                         boolean defaultPassthrough, boolean defaultStrict, boolean memEncrypt, boolean iommuDma,
                         boolean armDmaUseIommu) {
    public CoreConfig {
        if (version == null) {
            throw new IllegalArgumentException("kernel version must be given");
        }
    }

    /** Newest kernel, translated lazy (DMA_FQ) default, DMA layer present: SEMANTICS.md 13 fixture. */
    public static CoreConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private KernelVersion version = KernelVersion.V7_0;
        private Boolean cmdlinePassthrough;
        private Boolean cmdlineStrict;
        private boolean defaultPassthrough;
        private boolean defaultStrict;
        private boolean memEncrypt;
        private boolean iommuDma = true;
        private boolean armDmaUseIommu;

        private Builder() {
        }

        public Builder version(KernelVersion v) {
            this.version = v;
            return this;
        }

        /** {@code iommu.passthrough=<bool>} on the command line. */
        public Builder passthrough(boolean pt) {
            this.cmdlinePassthrough = pt;
            return this;
        }

        /** {@code iommu.strict=<bool>} on the command line. */
        public Builder strict(boolean strict) {
            this.cmdlineStrict = strict;
            return this;
        }

        public Builder defaultPassthrough(boolean v) {
            this.defaultPassthrough = v;
            return this;
        }

        public Builder defaultStrict(boolean v) {
            this.defaultStrict = v;
            return this;
        }

        public Builder memEncrypt(boolean v) {
            this.memEncrypt = v;
            return this;
        }

        public Builder iommuDma(boolean v) {
            this.iommuDma = v;
            return this;
        }

        public Builder armDmaUseIommu(boolean v) {
            this.armDmaUseIommu = v;
            return this;
        }

        public CoreConfig build() {
            return new CoreConfig(version, cmdlinePassthrough, cmdlineStrict, defaultPassthrough, defaultStrict,
                    memEncrypt, iommuDma, armDmaUseIommu);
        }
    }
}
