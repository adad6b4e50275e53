package org.jiommu.bus;

import java.util.List;

/**
 * A platform (non-PCI) device: an SMMU master identified by its stream IDs from firmware
 * ({@code iommus = <&smmu sid>} / IORT), with an optional SubstreamID width.
 */
public final class PlatformDevice extends Device {
    private final List<Integer> streamIds;
    private final int pasidBits;

    public PlatformDevice(String name, List<Integer> streamIds, int pasidBits) {
        super(name);
        if (pasidBits < 0 || pasidBits > 20) {
            throw new IllegalArgumentException("pasid bits " + pasidBits + " outside 0..20");
        }
        this.streamIds = List.copyOf(streamIds);
        this.pasidBits = pasidBits;
    }

    public List<Integer> streamIds() {
        return streamIds;
    }

    @Override
    public BusType busType() {
        return BusType.PLATFORM;
    }

    @Override
    public int maxPasids() {
        return pasidBits == 0 ? 0 : 1 << pasidBits;
    }

    @Override
    public boolean untrusted() {
        return false;
    }
}
