package org.jiommu.pgtable.arm;

import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAIR_ATTR_DEVICE;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAIR_ATTR_INC_OWBRWA;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAIR_ATTR_NC;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAIR_ATTR_WBRWA;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAIR_IDX_CACHE;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAIR_IDX_DEV;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAIR_IDX_INC_OCACHE;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAIR_IDX_NC;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.MAX_LEVELS;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.SZ_4K;
import static org.jiommu.pgtable.arm.ArmLpaePageTable.SZ_64K;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.WarningSink;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.TlbOps;

/**
 * What {@code alloc_io_pgtable_ops} computes for an ARM LPAE table before its first table page
 * is used ({@code arm_lpae_restrict_pgsizes}, {@code arm_lpae_alloc_pgtable},
 * {@code arm_64_lpae_alloc_pgtable_s1} / {@code _s2}): the granule and page sizes, the levels
 * and PGD size (with stage-2 concatenation), the TCR or VTCR and the MAIR the driver programs,
 * and the PGD itself. {@link ArmLpaePageTable#alloc} builds the table on the result.
 */
final class ArmLpaeAlloc {
    /** {@code ARM_LPAE_S2_MAX_CONCAT_PAGES}. */
    private static final int S2_MAX_CONCAT_PAGES = 16;
    private static final long SZ_16K = 1L << 14;
    private static final long SZ_2M = 1L << 21;
    private static final long SZ_32M = 1L << 25;
    private static final long SZ_512M = 1L << 29;
    private static final long SZ_1G = 1L << 30;
    private static final long SZ_4T = 1L << 42;

    private ArmLpaeAlloc() {
    }

    /**
     * The driver's request {@code cfg} with its outputs filled in and its PGD allocated; the
     * checks and errors of {@link ArmLpaePageTable#alloc} ({@code tlb} is only checked here).
     */
    static ArmLpaeConfig configure(ArmLpaeConfig cfg, FrameAllocator frames, TlbOps tlb, WarningSink warnings) {
        if (cfg.format() != PgtableFormat.ARM_64_LPAE_S1 && cfg.format() != PgtableFormat.ARM_64_LPAE_S2) {
            throw new IommuException(Errno.EINVAL, "format " + cfg.format() + " is not an ARM LPAE format");
        }
        if (tlb == null || warnings == null || frames == null) {
            throw new IllegalArgumentException("frames, tlb and warnings must not be null");
        }
        boolean s1 = cfg.isStage1();
        int accepted = s1 ? ArmLpaeConfig.S1_QUIRKS : ArmLpaeConfig.S2_QUIRKS;
        if ((cfg.quirks() & ~accepted) != 0) {
            throw new IommuException(Errno.EINVAL, String.format("quirks %s not accepted by %s",
                    ArmLpaeConfig.quirkNames(cfg.quirks() & ~accepted), cfg.format()));
        }

        // arm_lpae_restrict_pgsizes: one granule, the CPU page size if possible, else prefer smaller.
        long page = cfg.cpuPageSize();
        long requested = cfg.pgsizeBitmap();
        long gran;
        if ((requested & page) != 0) {
            gran = page;
        } else if ((requested & (page - 1)) != 0) {
            gran = Long.highestOneBit(requested & (page - 1));
        } else if ((requested & ~(page - 1)) != 0) {
            gran = Long.lowestOneBit(requested & ~(page - 1));
        } else {
            gran = 0;
        }
        long sizes;
        int maxAddrBits = 48;
        if (gran == SZ_4K) {
            sizes = SZ_4K | SZ_2M | SZ_1G;
        } else if (gran == SZ_16K) {
            sizes = SZ_16K | SZ_32M; // no L1 block with a 16K granule
        } else if (gran == SZ_64K) {
            maxAddrBits = 52; // only the 64K granule can fold PA[51:48] into the descriptor
            sizes = SZ_64K | SZ_512M | (cfg.oas() > 48 ? SZ_4T : 0);
        } else {
            sizes = 0;
        }
        long bitmap = requested & sizes;
        int ias = Math.min(cfg.ias(), maxAddrBits);
        int oas = Math.min(cfg.oas(), maxAddrBits);

        // arm_lpae_alloc_pgtable: the geometry.
        if ((bitmap & (SZ_4K | SZ_16K | SZ_64K)) == 0) {
            throw new IommuException(Errno.EINVAL, String.format(
                    "pgsize_bitmap %#x has no 4K/16K/64K granule (CPU page size %#x)", requested, page));
        }
        int pgShift = Long.numberOfTrailingZeros(bitmap);
        int bitsPerLevel = pgShift - 3;
        int vaBits = ias - pgShift;
        if (vaBits <= 0) {
            // The kernel trusts its drivers here; a non-positive VA width has no table at all.
            throw new IommuException(Errno.EINVAL, String.format("ias %d leaves no bits above the %#x granule",
                    ias, 1L << pgShift));
        }
        int levels = (vaBits + bitsPerLevel - 1) / bitsPerLevel;
        int startLevel = MAX_LEVELS - levels;
        int pgdBits = vaBits - bitsPerLevel * (levels - 1);
        long granule = 1L << pgShift;

        ArmLpaeConfig.Tcr tcr = null;
        ArmLpaeConfig.Vtcr vtcr = null;
        long mair = 0;
        int psCode = psEncoding(oas);
        if (s1) {
            int sh;
            int irgn;
            int orgn;
            if (cfg.coherentWalk()) {
                if (cfg.hasQuirk(ArmLpaeConfig.QUIRK_ARM_OUTER_WBWA)) {
                    throw new IommuException(Errno.EINVAL, "quirk ARM_OUTER_WBWA needs a non-coherent walker");
                }
                sh = ArmLpaeConfig.TCR_SH_IS;
                irgn = ArmLpaeConfig.TCR_RGN_WBWA;
                orgn = ArmLpaeConfig.TCR_RGN_WBWA;
            } else {
                sh = ArmLpaeConfig.TCR_SH_OS;
                irgn = ArmLpaeConfig.TCR_RGN_NC;
                orgn = cfg.hasQuirk(ArmLpaeConfig.QUIRK_ARM_OUTER_WBWA)
                        ? ArmLpaeConfig.TCR_RGN_WBWA : ArmLpaeConfig.TCR_RGN_NC;
            }
            boolean tg1 = cfg.hasQuirk(ArmLpaeConfig.QUIRK_ARM_TTBR1);
            int tg;
            if (granule == SZ_4K) {
                tg = tg1 ? ArmLpaeConfig.TCR_TG1_4K : ArmLpaeConfig.TCR_TG0_4K;
            } else if (granule == SZ_16K) {
                tg = tg1 ? ArmLpaeConfig.TCR_TG1_16K : ArmLpaeConfig.TCR_TG0_16K;
            } else {
                tg = tg1 ? ArmLpaeConfig.TCR_TG1_64K : ArmLpaeConfig.TCR_TG0_64K;
            }
            if (psCode < 0) {
                throw new IommuException(Errno.EINVAL, "oas " + oas + " has no TCR.IPS encoding");
            }
            tcr = new ArmLpaeConfig.Tcr(psCode, tg, sh, orgn, irgn, 64 - ias);
            // The kernel ORs int-typed shifts into a u64: 0xf4 << 24 is a negative int and
            // sign-extends, so the register value is 0xfffffffff404ff44 (vectors/README.md).
            mair = (long) (MAIR_ATTR_NC << (MAIR_IDX_NC << 3))
                    | (long) (MAIR_ATTR_WBRWA << (MAIR_IDX_CACHE << 3))
                    | (long) (MAIR_ATTR_DEVICE << (MAIR_IDX_DEV << 3))
                    | (long) (MAIR_ATTR_INC_OWBRWA << (MAIR_IDX_INC_OCACHE << 3));
        } else {
            if (concatMandatory(granule, startLevel, ias, oas)) {
                // arm_lpae_concat_mandatory (DDI0487 R_DXBSH, R_SRKBC): one level fewer, a wider PGD.
                if ((1L << pgdBits) > S2_MAX_CONCAT_PAGES) {
                    warnings.warn("arm_64_lpae_alloc_pgtable_s2", String.format(
                            "concatenation needs %d tables, more than %d (ias %d oas %d granule %#x)",
                            1L << pgdBits, S2_MAX_CONCAT_PAGES, ias, oas, granule));
                    throw new IommuException(Errno.EINVAL, String.format(
                            "stage 2 ias %d oas %d granule %#x would need %d concatenated tables",
                            ias, oas, granule, 1L << pgdBits));
                }
                pgdBits += bitsPerLevel;
                startLevel++;
            }
            int sh;
            int rgn;
            if (cfg.coherentWalk()) {
                sh = ArmLpaeConfig.TCR_SH_IS;
                rgn = ArmLpaeConfig.TCR_RGN_WBWA;
            } else {
                sh = ArmLpaeConfig.TCR_SH_OS;
                rgn = ArmLpaeConfig.TCR_RGN_NC;
            }
            int sl = startLevel;
            int tg;
            if (granule == SZ_4K) {
                tg = ArmLpaeConfig.TCR_TG0_4K;
                sl++; // SL0 counts from level 1 less for the 4K granule
            } else if (granule == SZ_16K) {
                tg = ArmLpaeConfig.TCR_TG0_16K;
            } else {
                tg = ArmLpaeConfig.TCR_TG0_64K;
            }
            if (psCode < 0) {
                throw new IommuException(Errno.EINVAL, "oas " + oas + " has no VTCR.PS encoding");
            }
            vtcr = new ArmLpaeConfig.Vtcr(psCode, tg, sh, rgn, rgn, ~sl & 3, 64 - ias);
        }

        ArmLpaeConfig.Geometry geometry = new ArmLpaeConfig.Geometry(pgShift, startLevel, bitsPerLevel, pgdBits);
        // __arm_lpae_alloc_pages: very small top tables still need 64-byte alignment.
        long pgd = frames.allocBytes(Math.max(geometry.pgdSize(), 64));
        if (pgd < 0) {
            throw new IommuException(Errno.ENOMEM, String.format("no memory for a %#x-byte PGD",
                    Math.max(geometry.pgdSize(), 64)));
        }
        return new ArmLpaeConfig(cfg.format(), bitmap, ias, oas, cfg.quirks(), cfg.coherentWalk(),
                cfg.cpuPageSize(), geometry, tcr, vtcr, mair, pgd);
    }

    /** {@code arm_lpae_concat_mandatory}: the three cases where DDI0487 requires concatenation. */
    private static boolean concatMandatory(long granule, int startLevel, int ias, int oas) {
        if (granule == SZ_16K && startLevel == 0) {
            return oas == 48 || ias == 48;
        }
        if (granule == SZ_4K && startLevel == 0) {
            return oas == 40 || oas == 42;
        }
        return granule == SZ_16K && startLevel == 1 && oas == 40;
    }

    /** TCR.IPS / VTCR.PS code of an output size, -1 if the architecture has none. */
    private static int psEncoding(int oas) {
        switch (oas) {
            case 32: return 0;
            case 36: return 1;
            case 40: return 2;
            case 42: return 3;
            case 44: return 4;
            case 48: return 5;
            case 52: return 6;
            default: return -1;
        }
    }
}
