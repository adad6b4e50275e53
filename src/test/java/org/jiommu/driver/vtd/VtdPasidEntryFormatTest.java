package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.driver.common.HitlessEntryWriter;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** VT-d's PASID entry as an entry format for the hitless writer (docs/driver-common.md). */
class VtdPasidEntryFormatTest {
    static final HitlessEntryWriter WRITER = new HitlessEntryWriter(VtdPasidEntryFormat.INSTANCE);

    static final class Store implements HitlessEntryWriter.EntryStore {
        final long[] words;
        final List<String> writes = new ArrayList<>();

        Store(long[] init) {
            words = init.clone();
        }

        @Override
        public long read(int qword) {
            return words[qword];
        }

        @Override
        public void write(int qword, long value) {
            words[qword] = value;
            writes.add("q" + qword);
        }
    }

    static List<long[]> entries() {
        return List.of(
                VtdEncoder.secondLevelPasidEntry(0x7654_3000L, 2, 5, true, true),
                VtdEncoder.secondLevelPasidEntry(0x7654_3000L, 3, 5, false, true),
                VtdEncoder.passThroughPasidEntry(2, VtdIommu.FLPT_DEFAULT_DID, true, true),
                VtdEncoder.firstLevelPasidEntry(0x1111_1000L, false, 2, VtdIommu.FLPT_DEFAULT_DID, true, true),
                VtdEncoder.firstLevelPasidEntry(0x2222_2000L, true, 3, 7, false, true));
    }

    @Test
    @DisplayName("Every entry the driver's encoders build uses only bits its PGTT reads; set up from a clear slot, P goes last")
    void setupFromNotPresent() {
        for (long[] e : entries()) {
            Store s = new Store(new long[8]);
            int[] syncs = {0};
            HitlessEntryWriter.Result r = WRITER.write(s, e, () -> syncs[0]++);
            assertThat(s.words).containsExactly(e);
            assertThat(s.writes.get(s.writes.size() - 1)).as("present bit last").isEqualTo("q0");
            assertThat(r.breaking()).isFalse();
            assertThat(r.syncs()).isEqualTo(syncs[0]).isLessThanOrEqualTo(2);
        }
    }

    @Test
    @DisplayName("A replace between second-level domains (table and DID) cannot be hitless; a DID-only change is one word")
    void replace() {
        long[] a = VtdEncoder.secondLevelPasidEntry(0x7654_3000L, 2, 5, true, true);
        long[] b = VtdEncoder.secondLevelPasidEntry(0x7777_7000L, 2, 6, true, true);
        assertThat(WRITER.write(new Store(a), b, () -> { }).breaking()).isTrue();
        long[] sameTable = VtdEncoder.secondLevelPasidEntry(0x7654_3000L, 2, 6, true, true);
        HitlessEntryWriter.Result r = WRITER.write(new Store(a), sameTable, () -> { });
        assertThat(r).isEqualTo(new HitlessEntryWriter.Result(1, false));
    }
}
