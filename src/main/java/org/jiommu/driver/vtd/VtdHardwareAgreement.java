package org.jiommu.driver.vtd;

import java.util.List;
import org.jiommu.platform.HardwareAgreement;

/**
 * Invariant I7 on a {@link VtdPlatform}: the platform's generic agreement check
 * ({@link HardwareAgreement}) over the VT-d entries decoded from memory ({@link VtdAgreement}).
 * Run it at a quiescent point, with no core call running on another thread; it moves no
 * hardware counter or cache.
 */
public final class VtdHardwareAgreement {
    /**
     * How I7 labels a scalable-mode requester id that only a bridge's DMA alias gives the device:
     * the kernel sets up no context entry for it (pasid.c pci_pasid_table_setup skips an alias
     * whose pdev is not the device), so unless a device whose own id it is set it up, the
     * disagreement I7 reports there is the kernel's behaviour.
     */
    public static final String BRIDGE_ALIAS_FINDING = "a bridge's alias, which intel_pasid_setup_sm_context does not"
            + " set up (finding about the kernel)";

    private final VtdPlatform platform;

    public VtdHardwareAgreement(VtdPlatform platform) {
        this.platform = platform;
    }

    /** Convenience: the violations of {@code p}. */
    public static List<String> check(VtdPlatform p) {
        return new VtdHardwareAgreement(p).violations();
    }

    /** Every disagreement found, one message each; empty when hardware and core agree. */
    public List<String> violations() {
        return HardwareAgreement.check(platform.platform());
    }
}
