package org.jiommu.driver.smmuv2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import java.util.List;
import java.util.Map;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.check.PlatformState;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.IommuCore;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.IommuKinds;
import org.jiommu.platform.IommuUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.UnitSpec;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The smmuv2 kind plug-in on a Platform: registration, options, DMA wiring, and I7 from the unit's registers. */
class Smmuv2KindTest {
    private final Platform p = Platform.build(1L << 26, CoreConfig.defaults(),
            List.of(new UnitSpec("smmu0", "smmuv2", Map.of("context-banks", 4L))));
    private final IommuCore core = p.core();
    private final Smmuv2Units units = (Smmuv2Units) p.unitsNamed("smmu0");
    private final Smmuv2Unit unit = units.driver("smmu0").unit();
    private final PlatformDevice cam = new PlatformDevice("cam", List.of(0x10), 0);
    private final PlatformDevice dsp = new PlatformDevice("dsp", List.of(0x20, 0x21), 0);

    Smmuv2KindTest() {
        for (PlatformDevice d : List.of(cam, dsp)) {
            p.describe(d, "smmu0");
            units.enumerate(new IommuUnits.Firmware(d, "smmu0", d.streamIds(), List.of(), false), false);
        }
        p.start();
    }

    @Test
    @DisplayName("registered as smmuv2 through META-INF/services; context-banks sets IDR1.NUMCB")
    void registered() {
        assertThat(IommuKinds.require("smmuv2")).isInstanceOf(Smmuv2Kind.class);
        assertThat(unit.readl(IDR1) & IDR1_NUMCB_MASK).isEqualTo(4);
        assertThat(units.driver("smmu0").streamMapEntries(dsp)).hasSize(2);
    }

    @Test
    @DisplayName("hardware view: a whole snapshot's masters with the domain their S2CRs point at; a scoped one"
            + " knows only its group's master, with the same answers")
    void viewReadsTheSnapshotsDevices() {
        core.groupClaimDmaOwner(core.groupGet(cam), "vfio");
        IommuDomain d = core.pagingDomainAlloc(cam);
        core.attachGroup(d, core.groupGet(cam));
        CoreSnapshot whole = core.snapshot();
        HardwareView all = units.view(whole);
        Smmuv2Driver drv = units.driver("smmu0");
        for (PlatformDevice dev : List.of(cam, dsp)) {
            assertThat(all.knows(dev)).isTrue();
            assertThat(all.driverHolds(dev)).isTrue();
            assertThat(all.rid(dev)).isSameAs(drv.attachedDomains().get(dev)).isNotNull();
            assertThat(all.pasids(dev)).isEmpty();
        }
        assertThat(all.rid(cam)).isSameAs(d);
        assertThat(all.liveDriverDomains()).isEqualTo(-1);
        HardwareView v = PlatformState.scoped(p, whole, List.of(core.groupGet(cam)), List.of(cam)).hw();
        assertThat(v.knows(cam)).isTrue();
        assertThat(v.rid(cam)).isSameAs(d);
        assertThat(v.driverHolds(cam)).isTrue();
        assertThat(v.knows(dsp)).isFalse();
        assertThat(v.driverHolds(dsp)).isNull();
    }

    @Test
    @DisplayName("I7 holds after boot and after a new domain's attach; DMA through the engine lands in its table")
    void agreementHolds() {
        assertThat(p.agreement()).isEmpty();
        core.groupClaimDmaOwner(core.groupGet(cam), "vfio");
        IommuDomain d = core.pagingDomainAlloc(cam);
        core.attachGroup(d, core.groupGet(cam));
        core.map(d, 0x10_0000, 0x80_0000, 0x1000, Prot.RW);
        assertThat(p.agreement()).isEmpty();
        DmaEngine e = p.engine(cam);
        assertThat(e.read(-1, 0x10_0010, new byte[4]).firstPa()).isEqualTo(0x80_0010L);
    }

    @Test
    @DisplayName("I7 from the registers: an S2CR bypassing a paging master, a foreign ASID in TTBR0 and a stream "
            + "matching two SMRs are each reported")
    void agreementCatches() {
        int sme = units.driver("smmu0").streamMapEntries(cam)[0];
        int s2cr = unit.readl(S2CR_BASE + 4 * sme);
        unit.writel(S2CR_BASE + 4 * sme, s2cr(S2CR_TYPE_BYPASS, 0));
        assertThat(p.agreement()).anySatisfy(m -> assertThat(m).contains("cam").contains("bypass"));
        unit.writel(S2CR_BASE + 4 * sme, s2cr);
        assertThat(p.agreement()).isEmpty();

        int cb = s2cr & S2CR_CBNDX_MASK;
        long ttbr0 = unit.readq(unit.cbOffset(cb) + CB_TTBR0);
        unit.writeq(unit.cbOffset(cb) + CB_TTBR0, ttbr0 + (3L << TTBR_ASID_SHIFT));
        assertThat(p.agreement()).anySatisfy(m -> assertThat(m).contains("ASID"));
        unit.writeq(unit.cbOffset(cb) + CB_TTBR0, ttbr0);
        assertThat(p.agreement()).isEmpty();

        unit.writel(SMR_BASE + 4 * 15, smr(0x10, 0, true));
        assertThat(p.agreement()).anySatisfy(m -> assertThat(m).contains("cam").contains("stream match conflict"));
    }
}
