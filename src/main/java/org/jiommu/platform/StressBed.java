package org.jiommu.platform;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.mem.FrameAllocator;

/**
 * The platform of a stress run on one kind, as its {@link IommuKind#stressBed} builds it; the
 * contract (docs/check.md 4) is what the harness relies on, whatever the kind:
 * <ul>
 * <li>{@code devices}: a1, a2, b1, b2, r, p and, with PASIDs, q1, q2, n, probed; b1+b2 share a
 *     group, r is require_direct at {@link #DIRECT} (0x2000 bytes), p has 20 PASID bits and PRI;
 *     with PASIDs q1+q2 share a group and n has 3 PASID bits;</li>
 * <li>{@code pasidDevices}: p, then with PASIDs q1, q2, n;</li>
 * <li>{@code lanes}: one endpoint per worker alone in its group with its DMA engine, when the
 *     kind's hardware translates the workers' DMA (empty otherwise);</li>
 * <li>{@code baseline}: the frame statistics I10 compares the end of the run with.</li>
 * </ul>
 *
 * @param pageRequestsFromDma page requests come from the devices' own DMA through the hardware's
 *     queue and the driver's handler (so a worker never reports one itself, and the IOPF handler
 *     answers none from inside the driver's handler)
 * @param allowedErrors per stress op name, errnos the kind's driver may also give a legal caller
 */
public record StressBed(Shape shape, Platform platform, List<Device> devices, List<PciDevice> pasidDevices,
                        List<Lane> lanes, FrameAllocator.Stats baseline, boolean pageRequestsFromDma,
                        Map<String, Set<Errno>> allowedErrors) {
    /** Where r's direct-mapped region is. */
    public static final long DIRECT = 0x8000_0000L;

    /** What the run needs: one lane per worker thread, and whether the PASID churn runs. */
    public record Shape(int threads, boolean pasids) {
    }

    /** A worker's own endpoint and its DMA engine. */
    public record Lane(PciDevice dev, DmaEngine dma) {
    }

    /** The device named {@code name}, or null. */
    public Device device(String name) {
        for (Device d : devices) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }
}
