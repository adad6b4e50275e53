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
