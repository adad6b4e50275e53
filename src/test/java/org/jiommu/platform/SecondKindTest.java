package org.jiommu.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.jiommu.base.Prot;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.dma.DmaTranslator;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.check.InvariantWatch;
import org.jiommu.check.StressHarness;
import org.jiommu.core.CoreConfig;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.vtd.VtdKind;
import org.jiommu.hw.vtd.VtdTables;
import org.jiommu.driver.vtd.VtdUnits;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The platform's plug-in seam (issue 10's proof): a second IOMMU kind registered from a test,
 * "twin", a VT-d-like kind under its own name whose units are the VT-d model's, runs the stress
 * run (with its DMA lanes and I7 at quiescent points), the generic I7 and {@code hw_dump}
 * through {@link IommuKinds}, {@link Platform} and {@link IommuUnits} alone: nothing in
 * {@code check} or {@code scenario} knows its name.
 */
class SecondKindTest {
    /** A kind nobody registered in META-INF/services: it builds VT-d units under its own name. */
    static final class TwinKind implements IommuKind {
        private final IommuKind units = new VtdKind();

        @Override
        public String name() {
            return "twin";
        }

        @Override
        public IommuUnits create(Platform platform, List<UnitSpec> specs) {
            return units.create(platform, specs);
        }

        @Override
        public StressBed stressBed(StressBed.Shape shape) {
            return units.stressBed(shape);
        }
    }

    @BeforeAll
    static void register() {
        IommuKinds.register(new TwinKind());
    }

    @AfterAll
    static void unregister() {
        IommuKinds.unregister("twin");
    }

    @Test
    @DisplayName("the second kind is registered from the test beside the two of META-INF/services")
    void registry() {
        assertThat(IommuKinds.names()).containsSubsequence("mock", "vtd").contains("twin");
        assertThat(IommuKinds.require("twin")).isInstanceOf(TwinKind.class);
    }

    @Test
    @DisplayName("the stress run with PASIDs on the second kind: clean, I7 at every quiescent point, lane DMAs checked")
    void stressRun() {
        StressHarness.Config cfg = new StressHarness.Config(3, 4, 200, 3).withPasids().on("twin").serialised();
        StressHarness.Result r = StressHarness.run(cfg);
        InvariantWatch.drain();
        assertThat(r.clean()).as(r.toString()).isTrue();
        assertThat(r.hardwareChecks()).isEqualTo(cfg.opsPerThread() / 100 + 2);
        assertThat(r.dmaChecks()).isPositive();
    }

    @Test
    @DisplayName("a plant of the second kind's units (a stray PASID entry) is reported by the generic I7")
    void plantSeenByI7() {
        StressHarness.Config cfg = new StressHarness.Config(3, 4, 200, 3).withPasids().on("twin").serialised()
                .planting(StressHarness.Plant.named("stray-pasid-entry"));
        StressHarness.Result r = StressHarness.run(cfg);
        InvariantWatch.drain();
        assertThat(r.clean()).isFalse();
        assertThat(r.unexpected()).as(r.toString()).anyMatch(u -> u.startsWith("I7 at quiescent point 2: ")
                && u.contains("a2 PASID 5") && u.contains("that the core does not know"));
    }

    @Test
    @DisplayName("a platform of the mock kind and the second kind: firmware, probe, DMA, I7 and hw_dump through the seam")
    void mixedPlatform() {
        Platform p = Platform.build(1L << 32, CoreConfig.defaults(), List.of(
                new UnitSpec("m0", "mock", Map.of()),
                new UnitSpec("dmar7", "twin", Map.of())));
        IommuUnits twin = p.unitsNamed("dmar7");
        assertThat(p.units()).hasSize(2);
        PciDevice nic = new PciDevice("nic", 0, 0, 0x10, true, 20, false, false);
        twin.topology().add(nic, Acs.ISOLATED);
        p.describe(nic, "dmar7");
        twin.enumerate(new IommuUnits.Firmware(nic, "dmar7", List.of(), List.of(), false), false);
        p.start();
        assertThat(p.core().groupGet(nic)).isNotNull();
        assertThat(p.agreement()).isEmpty();

        IommuDomain d = p.core().pagingDomainAlloc(nic);
        p.core().map(d, 0x4000, 0x2000_0000L, 0x1000, Prot.RW);
        p.core().groupClaimDmaOwner(p.core().groupGet(nic), "vfio");
        p.core().attachGroup(d, p.core().groupGet(nic));
        DmaResult r = p.engine(nic).write(DmaTranslator.NO_PASID, 0x4000, new byte[] {1, 2, 3, 4}, 0, 4, new DmaResult());
        assertThat(r.ok()).isTrue();
        assertThat(r.firstPa()).isEqualTo(0x2000_0000L);
        assertThat(p.agreement()).isEmpty();

        String dump = twin.dump("dmar7", (dev, dom) -> dom.name());
        assertThat(dump).contains("vtd dmar7: scalable mode").contains("00:02.0 nic").contains("0x4000+4KiB -> 0x20000000");

        // the context entry cleared behind the driver's back: the generic I7 sees it through the kind's decoders
        VtdTables t = VtdTables.of(((VtdUnits) twin).unit("dmar7").unit(), p.memory());
        long ctx = t.contextEntryAddress(0x10);
        p.memory().writeLong(ctx, p.memory().readLong(ctx) & ~1L);
        assertThat(p.agreement()).isNotEmpty().anyMatch(v -> v.contains("nic") && v.contains("not present"));
    }
}
