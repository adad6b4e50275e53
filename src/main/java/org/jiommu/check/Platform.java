package org.jiommu.check;

import java.util.List;
import org.jiommu.core.IommuCore;
import org.jiommu.driver.mock.MockIommuDriver;
import org.jiommu.mem.FrameAllocator;

/**
 * A whole simulated platform the checker may look into: the core, its mock drivers (whose
 * hardware state is read exactly) and the frame allocator their page tables come from, with the
 * allocator's baseline taken when the platform is described (before any domain exists).
 */
public final class Platform {
    private final IommuCore core;
    private final List<MockIommuDriver> mocks;
    private final FrameAllocator frames;
    private final FrameAllocator.Stats baseline;

    /**
     * @param core the core
     * @param frames the allocator page tables come from (null if unknown); its baseline is now
     * @param mocks the mock drivers
     */
    public Platform(IommuCore core, FrameAllocator frames, MockIommuDriver... mocks) {
        this.core = core;
        this.mocks = List.of(mocks);
        this.frames = frames;
        if (!core.liveDomains().isEmpty()) {
            // I10 compares against this baseline: it must hold no page-table page
            throw new IllegalStateException("describe the platform before any domain exists; live: "
                    + core.liveDomains());
        }
        this.baseline = frames == null ? null : frames.stats();
    }

    public IommuCore core() {
        return core;
    }

    public List<MockIommuDriver> mocks() {
        return mocks;
    }

    public FrameAllocator frames() {
        return frames;
    }

    public FrameAllocator.Stats baseline() {
        return baseline;
    }

    /** The platform now, with the mock drivers' exact hardware view. */
    public PlatformState capture() {
        return PlatformState.capture(core, s -> new MockHardwareView(mocks, PlatformState.fwspecMap(s)), frames,
                baseline);
    }
}
