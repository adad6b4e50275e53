package org.jiommu.driver.vtd;

import org.jiommu.driver.common.HitlessEntryWriter;

/**
 * The scalable-mode PASID-table entry (VT-d spec 9.6, HARDWARE.md 2.4) as a
 * {@link HitlessEntryWriter.EntryFormat}: eight words, and per configuration (PGTT) the bits the
 * unit reads. A not-present entry uses only P. Every present entry uses P, FPD, AW, PGTT, DID,
 * PWSNP and PGSNP; a second-level entry also SLPTPTR (and SLADE); a first-level one FLPTPTR,
 * FLPM, SRE, WPE, NXE and EAFE; a pass-through one nothing more. The driver's own reading of the
 * spec, separate from the hardware model's decoder.
 */
final class VtdPasidEntryFormat implements HitlessEntryWriter.EntryFormat {
    static final VtdPasidEntryFormat INSTANCE = new VtdPasidEntryFormat();

    private static final long P = 1;
    private static final long Q0_COMMON = P | 1L << 1 /* FPD */ | 7L << 2 /* AW */ | 7L << 6 /* PGTT */;
    private static final long Q0_SECOND_LEVEL = 1L << 9 /* SLADE */ | ~0xFFFL /* SLPTPTR */;
    private static final long Q1_COMMON = 0xFFFFL /* DID */ | 1L << 23 /* PWSNP */ | 1L << 24 /* PGSNP */;
    private static final long Q2_FIRST_LEVEL = 1L /* SRE */ | 3L << 2 /* FLPM */ | 1L << 4 /* WPE */
            | 1L << 5 /* NXE */ | 1L << 7 /* EAFE */ | ~0xFFFL /* FLPTPTR */;

    private VtdPasidEntryFormat() {
    }

    @Override
    public int qwords() {
        return 8;
    }

    @Override
    public long[] usedBits(long[] entry) {
        long[] used = new long[8];
        used[0] = P;
        if ((entry[0] & P) == 0) {
            return used;
        }
        used[0] |= Q0_COMMON;
        used[1] |= Q1_COMMON;
        int pgtt = (int) (entry[0] >>> 6) & 7;
        if (pgtt == VtdEncoder.PGTT_SECOND_LEVEL || pgtt == VtdEncoder.PGTT_NESTED) {
            used[0] |= Q0_SECOND_LEVEL;
        }
        if (pgtt == VtdEncoder.PGTT_FIRST_LEVEL || pgtt == VtdEncoder.PGTT_NESTED) {
            used[2] |= Q2_FIRST_LEVEL;
        }
        return used;
    }
}
