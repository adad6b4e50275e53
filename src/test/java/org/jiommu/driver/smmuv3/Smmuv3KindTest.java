package org.jiommu.driver.smmuv3;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.jiommu.base.Prot;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.EntryWrites;
import org.jiommu.hw.smmuv3.ContextDescriptor;
import org.jiommu.platform.IommuKinds;
import org.jiommu.platform.IommuUnits;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The smmuv3 kind plug-in: registration, options, and I7 decoded from the STEs and CDs in memory. */
class Smmuv3KindTest {
    private final Smmuv3Bed b = new Smmuv3Bed(Smmuv3Bed.features());

    @Test
    @DisplayName("registered as smmuv3 through META-INF/services; the option table and its rules")
    void registered() {
        Smmuv3Kind k = (Smmuv3Kind) IommuKinds.require("smmuv3");
        assertThat(k.options()).containsKeys("ssid-bits", "sid-bits", "two-level-stream-table", "ats", "stages",
                "granule", "ias", "oas");
        assertThat(k.optionProblems(Map.of("ias", 40L, "oas", 48L))).singleElement()
                .satisfies(p -> assertThat(p.key()).isEqualTo("ias"));
        assertThat(k.optionProblems(Map.of("stages", List.of()))).singleElement()
                .satisfies(p -> assertThat(p.key()).isEqualTo("stages"));
        assertThat(k.optionProblems(Map.of("ias", 48L, "stages", List.of("s2")))).isEmpty();
        assertThat(k.hasStressBed()).isTrue();
    }

    @Test
    @DisplayName("stall-model: the option and its feature bit; firmware's dma-can-stall makes a platform master"
            + " stalling on a unit with the stall model, is ignored without it (as arm_smmu_probe_device), and is"
            + " refused for a PCI function; the rule takes it only where stall-model: true")
    void dmaCanStallFromFirmware() {
        Smmuv3Kind k = (Smmuv3Kind) IommuKinds.require("smmuv3");
        assertThat(k.options()).containsKey("stall-model");
        assertThat(k.deviceRules().dmaCanStall().test(Map.of("stall-model", true))).isTrue();
        assertThat(k.deviceRules().dmaCanStall().test(Map.of())).isFalse();
        assertThat(Smmuv3Kind.features(new org.jiommu.platform.UnitSpec("u", "smmuv3", Map.of("stall-model", true)))
                .stall()).isTrue();
        assertThat(Smmuv3Kind.features(new org.jiommu.platform.UnitSpec("u", "smmuv3", Map.of())).stall()).isFalse();

        Smmuv3Bed stalls = new Smmuv3Bed(Smmuv3Bed.features().withStall(true));
        PlatformDevice dsp = new PlatformDevice("dsp", List.of(0x400), 8);
        stalls.p.describe(dsp, "smmu0");
        stalls.units.enumerate(new IommuUnits.Firmware(dsp, "smmu0", dsp.streamIds(), List.of(), false, true), true);
        assertThat(stalls.drv.stallEnabled(dsp)).isTrue();
        PciDevice nic = stalls.endpoint("nic", false, 0, false);
        stalls.p.describe(nic, "smmu0");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> stalls.units.enumerate(
                new IommuUnits.Firmware(nic, "smmu0", List.of(), List.of(), false, true), true)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("platform masters");

        PlatformDevice cam = new PlatformDevice("cam", List.of(0x500), 8);
        b.p.describe(cam, "smmu0");
        b.units.enumerate(new IommuUnits.Firmware(cam, "smmu0", cam.streamIds(), List.of(), false, true), true);
        assertThat(b.drv.stallEnabled(cam)).isFalse();
    }

    @Test
    @DisplayName("I7 holds after boot, after an attach and with a PASID attached; a platform master's DMA goes"
            + " through its unit with its first stream id")
    void agreementHolds() {
        PciDevice acc = b.endpoint("acc", true, 20, false);
        PlatformDevice cam = new PlatformDevice("cam", List.of(0x400, 0x401), 0);
        b.add(acc);
        b.p.describe(cam, "smmu0");
        b.units.enumerate(new IommuUnits.Firmware(cam, "smmu0", cam.streamIds(), List.of(), false), true);
        assertThat(b.p.agreement()).isEmpty();
        b.core.groupClaimDmaOwner(b.core.groupGet(cam), "vfio");
        IommuDomain d = b.core.pagingDomainAlloc(cam);
        b.core.attachGroup(d, b.core.groupGet(cam));
        b.core.map(d, 0x10_0000, 0x80_0000, 0x1000, Prot.RW);
        assertThat(b.read(cam, -1, 0x10_0010)).isEqualTo(0x80_0010L);
        IommuDomain p = b.core.pagingDomainAlloc(acc);
        b.core.attachDevicePasid(p, acc, 6);
        assertThat(b.p.agreement()).isEmpty();
    }

    @Test
    @DisplayName("I7 from memory: a CD 0 with a foreign ASID, a CD left at a detached PASID and a bypass STE under a"
            + " paging domain are each reported")
    void agreementCatches() {
        PciDevice acc = b.endpoint("acc", true, 20, false);
        b.add(acc);
        IommuDomain p = b.core.pagingDomainAlloc(acc);
        b.core.attachDevicePasid(p, acc, 6);
        assertThat(b.p.agreement()).isEmpty();
        Smmuv3Master m = b.drv.master(acc);
        long cd0 = b.drv.tables().cdAddress(m, 0);
        long w0 = b.unit.memory().readLong(cd0);
        b.unit.memory().writeLong(cd0, w0 ^ 7L << ContextDescriptor.ASID_SHIFT);
        assertThat(b.p.agreement()).anySatisfy(s -> assertThat(s).contains("acc").contains("ASID"));
        b.unit.memory().writeLong(cd0, w0);
        assertThat(b.p.agreement()).isEmpty();

        long cd6 = b.drv.tables().cdAddress(m, 6);
        long[] kept = EntryWrites.read(b.unit.memory(), cd6, 8);
        b.core.detachDevicePasid(p, acc, 6);
        EntryWrites.writePresentLast(b.unit.memory(), cd6, kept);
        assertThat(b.p.agreement()).anySatisfy(s -> assertThat(s).contains("acc").contains("6"));
        b.unit.memory().writeLong(cd6, 0);
        assertThat(b.p.agreement()).isEmpty();

        long ste = b.drv.tables().steAddress(b.sid(acc));
        long s0 = b.unit.memory().readLong(ste);
        b.unit.memory().writeLong(ste, Smmuv3Entries.bypassSte(b.drv.steFeatures())[0]);
        assertThat(b.p.agreement()).anySatisfy(s -> assertThat(s).contains("acc").contains("bypass"));
        b.unit.memory().writeLong(ste, s0);
        assertThat(b.p.agreement()).isEmpty();
    }
}
