package org.jiommu.hw.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The context cache's direct device-selective invalidation drops exactly what the scan with
 * {@link InvDescriptor.ContextCacheInv#coversSource} drops (VT-d spec 6.5.2.1: FM masks the
 * function bits), for every function mask, on a bus full of cached entries and its neighbours.
 */
class ContextCacheTest {
    /** Source ids cached: every devfn of buses 3 and 4, a few of bus 5. */
    private static List<Integer> sids() {
        List<Integer> s = new ArrayList<>();
        for (int devfn = 0; devfn < 256; devfn++) {
            s.add(0x300 | devfn);
            s.add(0x400 | devfn);
        }
        s.add(0x500);
        s.add(0x5FF);
        return s;
    }

    private static ContextCache filled() {
        ContextCache c = new ContextCache();
        for (int sid : sids()) {
            assertThat(c.put(sid, "ctx " + sid, c.epoch())).isTrue();
        }
        return c;
    }

    @Test
    @DisplayName("device-selective context-cache invalidation: the direct visit drops what the coversSource scan drops")
    void directMatchesScan() {
        int[] targets = {0x300, 0x3A5, 0x3FF, 0x407, 0x418, 0x500, 0x5FF, 0x6C3};
        for (int fm = 0; fm <= 3; fm++) {
            for (int sid : targets) {
                InvDescriptor.ContextCacheInv d = new InvDescriptor.ContextCacheInv(InvDescriptor.G_DEVICE_OR_PAGE,
                        7, sid, fm);
                ContextCache direct = filled();
                ContextCache scanned = filled();
                long epoch = direct.epoch();
                long gen = direct.generation();
                int n = direct.invalidateSources(sid, InvDescriptor.ContextCacheInv.functionMaskBits(fm));
                assertThat(n).as("fm %d sid %x", fm, sid).isEqualTo(scanned.invalidateIf((s, e) -> d.coversSource(s)));
                assertThat(direct.epoch()).isEqualTo(epoch + 1);
                assertThat(direct.generation()).isEqualTo(n == 0 ? gen : gen + 1);
                assertThat(direct.size()).isEqualTo(scanned.size());
                for (int s = 0; s < 0x800; s++) {
                    assertThat(direct.get(s)).as("fm %d sid %x, entry %x", fm, sid, s).isEqualTo(scanned.get(s));
                }
            }
        }
    }
}
