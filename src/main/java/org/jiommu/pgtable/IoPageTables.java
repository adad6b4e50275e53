package org.jiommu.pgtable;

import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.jiommu.pgtable.x86.VtdSecondLevelPageTable;
import org.jiommu.pgtable.x86.X86RadixPageTable.CommonBuilder;
import org.jiommu.pgtable.x86.X86FirstLevelPageTable;

/**
 * The one way drivers and tools get a page table: the kernel's
 * {@code alloc_io_pgtable_ops(fmt, cfg, cookie)} ({@code io-pgtable.c}), which looks the format
 * up in its table of init functions. Each format keeps its own allocator with its own
 * format-specific inputs ({@link ArmLpaePageTable#alloc}, the x86 builders); this factory maps
 * the common {@link IoPgtableCfg} onto them, so a driver names a format and nothing else.
 *
 * <p>What a format hands back beyond the table (ARM's TCR, MAIR, restricted widths) is on the
 * table of that format ({@code ArmLpaePageTable.config()}): cast to read it, as the kernel reads
 * its cfg back.
 */
public final class IoPageTables {
    private IoPageTables() {
    }

    /**
     * A new empty table of {@code format}.
     *
     * @param tlb the driver's TLB ops ({@link TlbOps#NONE} for none)
     * @throws IommuException the format's refusal (EINVAL / EOPNOTSUPP for a config it cannot
     *     do, ERANGE for widths out of range), ENOMEM when no page is left for the top table
     */
    public static IoPageTable alloc(PgtableFormat format, IoPgtableCfg cfg, TlbOps tlb) {
        if (format == null || cfg == null || tlb == null) {
            throw new IllegalArgumentException("format, cfg and tlb must not be null");
        }
        switch (format) {
            case ARM_64_LPAE_S1:
            case ARM_64_LPAE_S2:
                return ArmLpaePageTable.alloc(ArmLpaeConfig.builder(format).pgsizeBitmap(cfg.pgsizeBitmap())
                        .ias(cfg.ias()).oas(cfg.oas()).quirks(cfg.quirks()).coherentWalk(cfg.coherentWalk()).build(),
                        cfg.frames(), tlb, cfg.warnings());
            case VTD_SECOND_LEVEL: {
                noQuirks(format, cfg);
                VtdSecondLevelPageTable.Builder b = VtdSecondLevelPageTable.builder(cfg.frames())
                        .forceCoherence(cfg.has(IoPgtableCfg.FEAT_VTDSS_FORCE_COHERENCE))
                        .forceWriteable(cfg.has(IoPgtableCfg.FEAT_VTDSS_FORCE_WRITEABLE));
                if (cfg.ias() != 0) {
                    b.addressWidth(cfg.ias());
                }
                return common(b, cfg, tlb).build();
            }
            case X86_64_FIRST_LEVEL: {
                noQuirks(format, cfg);
                // 4 levels resolve 48 bits, 5 levels (LA57) 57; a narrower width keeps the levels
                X86FirstLevelPageTable.Builder b = X86FirstLevelPageTable.builder(cfg.frames())
                        .levels(cfg.ias() > 48 ? 5 : 4)
                        .signExtend(cfg.has(IoPgtableCfg.FEAT_SIGN_EXTEND));
                if (cfg.ias() != 0) {
                    b.inputWidth(cfg.ias());
                }
                return common(b, cfg, tlb).build();
            }
            default:
                throw new IommuException(Errno.EINVAL, "no page-table format " + format);
        }
    }

    private static <B extends CommonBuilder<B>> B common(B b, IoPgtableCfg cfg, TlbOps tlb) {
        if (cfg.pgsizeBitmap() != 0) {
            b.pageSizes(cfg.pgsizeBitmap());
        }
        if (cfg.oas() != 0) {
            b.outputWidth(cfg.oas());
        }
        return b.warnings(cfg.warnings()).debugChecks(cfg.has(IoPgtableCfg.FEAT_DEBUG_CHECKS)).tlb(tlb);
    }

    /** The generic_pt formats have no io-pgtable quirks: asking for one is a driver bug. */
    private static void noQuirks(PgtableFormat format, IoPgtableCfg cfg) {
        if (cfg.quirks() != 0) {
            throw new IommuException(Errno.EINVAL, String.format("%s takes no io-pgtable quirks (%#x)",
                    format, cfg.quirks()));
        }
    }
}
