package org.jiommu.driver.smmuv2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.UnitSpec;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Aux domains on the SMMUv2 driver (the 2019-2020 arm-smmu aux series, seed 002) and the GPU
 * that switches its own bank's TTBR0, on a platform of the smmuv2 kind: every DMA goes through
 * the unit's registers, TLB and the tables in memory.
 */
class Smmuv2AuxTest {
    private static final long K4 = 4096;
    private static final long IOVA = 0x10000;
    private static final long PA1 = 0x100_0000;
    private static final long PA2 = 0x200_0000;

    /** A platform with one SMMUv2: a GPU (context-switch capable), a display and a PASID-capable master. */
    abstract static class Bed {
        final Platform p;
        final IommuCore core;
        final Smmuv2Units units;
        final Smmuv2Driver drv;
        final Smmuv2Unit unit;
        final PlatformDevice gpu = new PlatformDevice("gpu", List.of(0x400), 0);
        final PlatformDevice display = new PlatformDevice("display", List.of(0x401), 0);
        final PlatformDevice card = new PlatformDevice("card", List.of(0x402), 20);

        Bed(boolean split) {
            p = Platform.build(1L << 26, CoreConfig.defaults(), List.of(new UnitSpec("smmu0", "smmuv2",
                    Map.of("context-banks", 4L, "split-tables", split))));
            core = p.core();
            units = (Smmuv2Units) p.unitsNamed("smmu0");
            drv = units.driver("smmu0");
            unit = drv.unit();
            for (PlatformDevice d : List.of(gpu, display, card)) {
                p.describe(d, "smmu0");
                units.enumerate(new IommuUnits.Firmware(d, "smmu0", d.streamIds(), List.of(), d == gpu), false);
            }
            p.start();
        }

        /** The GPU's DMA read of 4 bytes at {@code iova}: where it landed, or -1 for a fault. */
        long gpuDma(long iova) {
            DmaResult r = p.engine(gpu).read(-1, iova, new byte[4]);
            return r.ok() ? r.firstPa() : -1;
        }

        IommuDomain auxDomain(long iova, long pa) {
            IommuDomain d = core.pagingDomainAlloc(gpu);
            core.auxAttachDevice(d, gpu);
            core.map(d, iova, pa, K4, Prot.RW);
            return d;
        }

        long ptbase(IommuDomain d) {
            return core.domainGetAttr(d, DomainAttr.PTBASE);
        }

        Errno errno(Runnable r) {
            IommuException e = catchThrowableOfType(r::run, IommuException.class);
            assertThat(e).as("expected an IommuException").isNotNull();
            return e.errno();
        }

        long bankReg(int cb, int reg) {
            return unit.readq(unit.cbOffset(cb) + reg);
        }
    }

    @Nested
    class Plain extends Bed {
        Plain() {
            super(false);
            core.devEnableFeature(gpu, DevFeature.AUX);
        }

        int gpuBank() {
            return drv.contextBank(core.getDomainForDev(gpu));
        }

        @Test
        @DisplayName("S02 AUX only for the master declared context-switch capable: a PASID-capable master behind a "
                + "plain SMMUv2 and the display get false, and enabling it is -ENODEV")
        void s02() {
            assertThat(core.devHasFeature(gpu, DevFeature.AUX)).isTrue();
            assertThat(core.devFeatureEnabled(gpu, DevFeature.AUX)).isTrue();
            assertThat(card.maxPasids()).isPositive();
            for (PlatformDevice d : List.of(card, display)) {
                assertThat(core.devHasFeature(d, DevFeature.AUX)).as(d.name()).isFalse();
                assertThat(errno(() -> core.devEnableFeature(d, DevFeature.AUX))).isEqualTo(Errno.ENODEV);
                IommuDomain x = core.pagingDomainAlloc(d);
                assertThat(errno(() -> core.auxAttachDevice(x, d))).isEqualTo(Errno.EINVAL);
            }
            assertThat(core.devHasFeature(gpu, DevFeature.SVA)).isFalse();
            core.devDisableFeature(gpu, DevFeature.AUX);
            IommuDomain d = core.pagingDomainAlloc(gpu);
            assertThat(errno(() -> core.auxAttachDevice(d, gpu))).isEqualTo(Errno.EINVAL);
        }

        @Test
        @DisplayName("S10 an aux domain is only a page table in its master's bank: no bank of its own, no register "
                + "written, the master's ASID; PTBASE its table base, -ENODEV for any other domain")
        void s10TableOnly() {
            int cb = gpuBank();
            long[] before = {bankReg(cb, CB_TTBR0), bankReg(cb, CB_TTBR1), unit.readl(unit.cbOffset(cb) + CB_TCR)};
            int banks = drv.contextBanksInUse();
            IommuDomain ctx = core.pagingDomainAlloc(gpu);
            assertThat(errno(() -> ptbase(ctx))).isEqualTo(Errno.ENODEV);
            core.auxAttachDevice(ctx, gpu);
            assertThat(drv.contextBanksInUse()).isEqualTo(banks);
            assertThat(drv.contextBank(ctx)).isEqualTo(cb);
            assertThat(((Smmuv2Domain) ctx).asid).isEqualTo(cb);
            assertThat(new long[] {bankReg(cb, CB_TTBR0), bankReg(cb, CB_TTBR1), unit.readl(unit.cbOffset(cb) + CB_TCR)})
                    .containsExactly(before);
            long base = ptbase(ctx);
            assertThat(base).isEqualTo(((Smmuv2Domain) ctx).table.root()).isNotEqualTo(before[0] & ((1L << 48) - 1));
            assertThat(errno(() -> ptbase(core.getDomainForDev(gpu)))).isEqualTo(Errno.ENODEV);
            assertThat(errno(() -> core.auxGetPasid(ctx, gpu))).isEqualTo(Errno.EINVAL);
            core.auxDetachDevice(ctx, gpu);
            assertThat(errno(() -> ptbase(ctx))).isEqualTo(Errno.ENODEV);
            core.domainFree(ctx);
            assertThat(drv.contextBanksInUse()).isEqualTo(banks);
        }

        @Test
        @DisplayName("S10 the GPU switches between two aux tables: each DMA lands in the table switched to, and the "
                + "hardware agreement (I7) holds on the switched bank")
        void s10Switching() {
            IommuDomain ctx1 = auxDomain(IOVA, PA1);
            IommuDomain ctx2 = auxDomain(IOVA, PA2);
            assertThat(gpuDma(IOVA)).isEqualTo(-1); // still the default domain's table
            long inv = unit.stats().get("tlb.invalidations");
            units.switchContext(gpu, ptbase(ctx1));
            assertThat(bankReg(gpuBank(), CB_TTBR0)).isEqualTo(ptbase(ctx1) | (long) gpuBank() << TTBR_ASID_SHIFT);
            assertThat(unit.stats().get("tlb.invalidations")).isEqualTo(inv + 1);
            assertThat(gpuDma(IOVA + 8)).isEqualTo(PA1 + 8);
            assertThat(p.agreement()).isEmpty();
            units.switchContext(gpu, ptbase(ctx2));
            assertThat(gpuDma(IOVA + 8)).isEqualTo(PA2 + 8);
            units.switchContext(gpu, ptbase(ctx1));
            assertThat(gpuDma(IOVA)).isEqualTo(PA1);
            assertThat(p.agreement()).isEmpty();
            // a table that is no aux table of the bank is a disagreement
            IommuDomain other = core.pagingDomainAlloc(display);
            core.attachDevice(other, display);
            units.switchContext(gpu, ((Smmuv2Domain) other).table.root());
            assertThat(p.agreement()).anySatisfy(m -> assertThat(m).contains("gpu").contains("is not"));
        }

        @Test
        @DisplayName("S10 a switch without its TLBIASID (planted in the GPU) keeps the previous table's translation; "
                + "the real switch does not")
        void s10StaleWithoutTlbiasid() {
            IommuDomain ctx1 = auxDomain(IOVA, PA1);
            IommuDomain ctx2 = auxDomain(IOVA, PA2);
            units.switchContext(gpu, ptbase(ctx1));
            assertThat(gpuDma(IOVA)).isEqualTo(PA1); // cached under the bank's ASID
            units.gpu(gpu).skipInvalidations(1);
            units.switchContext(gpu, ptbase(ctx2));
            assertThat(gpuDma(IOVA)).as("stale: ctx1's translation under the same ASID").isEqualTo(PA1);
            units.switchContext(gpu, ptbase(ctx2)); // the real flow: TLBIASID + TLBSYNC
            assertThat(gpuDma(IOVA)).isEqualTo(PA2);
        }

        @Test
        @DisplayName("an aux table's unmap invalidates through the master's bank with its ASID")
        void auxUnmapFlushesMastersAsid() {
            IommuDomain ctx1 = auxDomain(IOVA, PA1);
            units.switchContext(gpu, ptbase(ctx1));
            assertThat(gpuDma(IOVA)).isEqualTo(PA1);
            assertThat(core.unmap(ctx1, IOVA, K4)).isEqualTo(K4);
            assertThat(gpuDma(IOVA)).isEqualTo(-1);
            assertThat(unit.readl(unit.cbOffset(gpuBank()) + CB_FSR) & FSR_TF).isNotZero();
        }

        @Test
        @DisplayName("S04 a domain used as aux is refused as a normal domain and the reverse, by the core while "
                + "attached and by the driver after (the aux table keeps its master's bank, a normal one its own)")
        void s04() {
            IommuDomain ctx1 = auxDomain(IOVA, PA1);
            assertThat(errno(() -> core.attachDevice(ctx1, display))).isEqualTo(Errno.EINVAL);
            core.auxDetachDevice(ctx1, gpu);
            // the core no longer knows it as aux; the driver's own sanity check refuses
            assertThat(errno(() -> core.attachDevice(ctx1, display))).isEqualTo(Errno.EINVAL);
            assertThat(core.getDomainForDev(display).type()).isIn(DomainType.DMA, DomainType.DMA_FQ);

            IommuDomain normal = core.pagingDomainAlloc(gpu);
            core.attachDevice(normal, display);
            assertThat(errno(() -> core.auxAttachDevice(normal, gpu))).isEqualTo(Errno.EINVAL);
            core.detachDevice(normal, display);
            assertThat(errno(() -> core.auxAttachDevice(normal, gpu))).isEqualTo(Errno.EINVAL);
            // a fresh domain is still fine both ways
            IommuDomain fresh = core.pagingDomainAlloc(gpu);
            core.auxAttachDevice(fresh, gpu);
            assertThat(p.agreement()).isEmpty();
        }

        @Test
        @DisplayName("the master's bank stays while an aux table hangs from it, and goes with the last user")
        void bankRefcount() {
            IommuDomain master = core.pagingDomainAlloc(gpu);
            core.attachDevice(master, gpu);
            int cb = drv.contextBank(master);
            IommuDomain ctx1 = auxDomain(IOVA, PA1);
            assertThat(drv.contextBank(ctx1)).isEqualTo(cb);
            int banks = drv.contextBanksInUse();
            core.auxDetachDevice(ctx1, gpu);
            core.detachDevice(master, gpu);
            core.domainFree(master);
            assertThat(drv.contextBanksInUse()).isEqualTo(banks);
            assertThat(unit.readl(unit.cbOffset(cb) + CB_SCTLR) & SCTLR_M).isNotZero();
            core.domainFree(ctx1);
            assertThat(drv.contextBanksInUse()).isEqualTo(banks - 1);
            assertThat(unit.readl(unit.cbOffset(cb) + CB_SCTLR)).isZero();
        }

        @Test
        @DisplayName("an aux attach needs the master's bank: a GPU on the identity domain has none (-ENODEV)")
        void noBank() {
            core.groupClaimDmaOwner(core.groupGet(gpu), "msm");
            core.attachGroup(drv.identityDomain(), core.groupGet(gpu));
            IommuDomain d = core.pagingDomainAlloc(gpu);
            assertThat(errno(() -> core.auxAttachDevice(d, gpu))).isEqualTo(Errno.ENODEV);
            assertThat(errno(() -> ptbase(d))).isEqualTo(Errno.ENODEV);
        }
    }

    @Nested
    class Split extends Bed {
        static final long UPPER = 0xffff_ff00_0000_0000L;
        static final long PAG = 0x300_0000;

        Split() {
            super(true);
            core.devEnableFeature(gpu, DevFeature.AUX);
        }

        @Test
        @DisplayName("S11 split tables: the GPU starts on identity, its own domain is a TTBR1 table (TCR = HARDWARE.md "
                + "7.4 D3), the first aux table turns TTBR0 on (D4); upper IOVAs walk TTBR1, the others TTBR0")
        void s11() {
            assertThat(core.getDomainForDev(gpu).type()).isEqualTo(DomainType.IDENTITY);
            assertThat(core.getDomainForDev(display).type()).isIn(DomainType.DMA, DomainType.DMA_FQ);
            core.groupClaimDmaOwner(core.groupGet(gpu), "msm");
            IommuDomain global = core.pagingDomainAlloc(gpu);
            assertThat(global.geometry().apertureStart()).isEqualTo(-1L << 48);
            core.attachGroup(global, core.groupGet(gpu));
            int cb = drv.contextBank(global);
            long page = unit.cbOffset(cb);
            assertThat(unit.readl(page + CB_TCR)).isEqualTo(0xB510_0080);
            assertThat(unit.readq(page + CB_TTBR0)).isEqualTo((long) cb << TTBR_ASID_SHIFT);
            assertThat(unit.readq(page + CB_TTBR1)).isEqualTo(((Smmuv2Domain) global).table.root()
                    | (long) cb << TTBR_ASID_SHIFT);
            core.map(global, UPPER, PAG, K4, Prot.RW);
            assertThat(gpuDma(UPPER + 4)).isEqualTo(PAG + 4);
            assertThat(gpuDma(IOVA)).as("TTBR0 walks disabled").isEqualTo(-1);
            assertThat(p.agreement()).isEmpty();

            IommuDomain ctx1 = auxDomain(IOVA, PA1);
            assertThat(unit.readl(page + CB_TCR)).isEqualTo(0xB510_3510);
            assertThat(unit.readq(page + CB_TTBR0)).isEqualTo(ptbase(ctx1) | (long) cb << TTBR_ASID_SHIFT);
            assertThat(gpuDma(IOVA)).isEqualTo(PA1);
            IommuDomain ctx2 = auxDomain(IOVA, PA2);
            assertThat(unit.readq(page + CB_TTBR0)).as("a second aux table touches no register")
                    .isEqualTo(ptbase(ctx1) | (long) cb << TTBR_ASID_SHIFT);
            units.switchContext(gpu, ptbase(ctx2));
            assertThat(gpuDma(IOVA)).isEqualTo(PA2);
            assertThat(gpuDma(UPPER)).isEqualTo(PAG);
            assertThat(p.agreement()).isEmpty();

            core.auxDetachDevice(ctx1, gpu);
            core.auxDetachDevice(ctx2, gpu);
            core.domainFree(ctx1);
            assertThat(unit.readl(page + CB_TCR)).isEqualTo(0xB510_3510);
            core.domainFree(ctx2);
            assertThat(unit.readl(page + CB_TCR)).as("the last aux table turns TTBR0 off").isEqualTo(0xB510_0080);
            assertThat(unit.readq(page + CB_TTBR0)).isEqualTo((long) cb << TTBR_ASID_SHIFT);
            assertThat(gpuDma(UPPER)).isEqualTo(PAG);
            assertThat(p.agreement()).isEmpty();
        }

        @Test
        @DisplayName("S11 split tables: an aux attach on a master whose bank has no TTBR1 table is -EINVAL; a foreign "
                + "table in an enabled TTBR0 breaks I7")
        void s11Refusals() {
            core.groupClaimDmaOwner(core.groupGet(gpu), "msm");
            IommuDomain plain = core.pagingDomainAlloc(display); // allocated for a master that does not switch
            core.attachGroup(plain, core.groupGet(gpu));
            IommuDomain d = core.pagingDomainAlloc(gpu);
            assertThat(errno(() -> core.auxAttachDevice(d, gpu))).isEqualTo(Errno.EINVAL);
            core.detachGroup(plain, core.groupGet(gpu));

            IommuDomain global = core.pagingDomainAlloc(gpu);
            core.attachGroup(global, core.groupGet(gpu));
            core.auxAttachDevice(d, gpu);
            assertThat(p.agreement()).isEmpty();
            units.switchContext(gpu, ((Smmuv2Domain) plain).table.root());
            assertThat(p.agreement()).anySatisfy(m -> assertThat(m).contains("TTBR0 holds no aux table"));
        }
    }
}
