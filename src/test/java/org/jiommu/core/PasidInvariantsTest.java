package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.PasidInvariants.Invariant;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@link PasidInvariants} on a platform using every part-2 feature at once: it holds there, and
 * each invariant is broken on purpose (in the live state where the model can reach it, in a copy
 * of the snapshot where it cannot) and reported.
 */
class PasidInvariantsTest {
    private final Fixture f = new Fixture();
    private final PciDevice a = add("a");
    private final PciDevice b = add("b");
    private final IommuDomain d = f.core.pagingDomainAlloc(a);
    private final IommuDomain aux = f.core.pagingDomainAlloc(a);
    private final MmStruct mm = new MmStruct("proc", f.frames);
    private final SvaHandle bond;
    private final IopfGroup held;

    private PciDevice add(String name) {
        PciDevice x = f.pci(name);
        f.core.deviceAdd(x);
        return x;
    }

    PasidInvariantsTest() {
        f.core.attachDevicePasid(d, a, 7, new AttachHandle());
        f.core.devEnableFeature(b, DevFeature.AUX);
        f.core.auxAttachDevice(aux, b);
        bond = f.core.svaBindDevice(a, mm);
        f.core.svaBindDevice(b, mm);
        f.core.allocGlobalPasid(a);
        held = PageRequests.pending(f.core, b, 20);
    }

    private Function<Device, Map<Integer, IommuDomain>> hw() {
        Map<Device, Map<Integer, IommuDomain>> p = f.m.snapshot().pasids();
        return dev -> p.getOrDefault(dev, Map.of());
    }

    private List<Invariant> broken(CoreSnapshot s) {
        return PasidInvariants.check(s, hw()).stream().map(PasidInvariants.Violation::invariant).distinct().toList();
    }

    private static CoreSnapshot withGlobal(CoreSnapshot s, Map<Integer, Integer> g) {
        return new CoreSnapshot(s.defDomainType(), s.dmaStrict(), s.iommus(), s.groups(), s.devices(), s.domains(), g,
                s.mms(), s.svaDomains(), s.auxDomains(), s.iopf(), s.reservedPasidSlots());
    }

    @Test
    @DisplayName("I-PASID-SLOT I-NO-PASID-0 I-PASID-RANGE I-MM-PASID I-SVA-REF I-IOPF-ONCE hold with PASID, aux, SVA and IOPF in use")
    void holds() {
        CoreSnapshot s = f.core.snapshot();
        assertThat(s.mms()).containsOnlyKeys(mm);
        assertThat(s.auxDomains()).containsOnlyKeys(aux);
        assertThat(s.iopf().get(b).pending()).containsExactly(held.serial());
        assertThat(PasidInvariants.check(s, hw())).isEmpty();
        f.core.iopfGroupResponse(held, org.jiommu.core.spi.PageResponse.Code.SUCCESS);
        CoreSnapshot t = f.core.snapshot();
        assertThat(PasidInvariants.check(s, t, hw())).isEmpty();
    }

    @Test
    @DisplayName("I-PASID-SLOT broken: a member lost its PASID entry, an entry without a slot, a leaked reservation")
    void pasidSlot() {
        IommuGroup g = f.group(a);
        PasidEntry e = g.pasidArray.remove(7);
        assertThat(broken(f.core.snapshot())).containsExactly(Invariant.PASID_SLOT);
        g.pasidArray.put(7, e);
        g.pasidArray.put(30, new PasidEntry.DomainEntry(d)); // no device has it installed
        assertThat(broken(f.core.snapshot())).containsExactly(Invariant.PASID_SLOT);
        g.pasidArray.put(30, PasidEntry.Reserved.INSTANCE);
        List<PasidInvariants.Violation> v = PasidInvariants.check(f.core.snapshot(), hw());
        assertThat(v).hasSize(1).allMatch(x -> x.message().contains("placeholders"));
    }

    @Test
    @DisplayName("I-NO-PASID-0 broken: PASID 0 from the allocator, a PASID-API entry in slot 0")
    void noPasid0() {
        CoreSnapshot s = f.core.snapshot();
        Map<Integer, Integer> g = new HashMap<>(s.globalPasids());
        g.put(0, 1 << 20);
        assertThat(broken(withGlobal(s, g))).contains(Invariant.NO_PASID_0);
        f.group(a).pasidArray.put(0, new PasidEntry.DomainEntry(f.group(a).domain()));
        assertThat(broken(f.core.snapshot())).containsExactly(Invariant.NO_PASID_0);
    }

    @Test
    @DisplayName("I-PASID-RANGE broken: a PASID beyond its device's limit, one PASID owned twice")
    void pasidRange() {
        CoreSnapshot s = f.core.snapshot();
        Map<Integer, Integer> g = new HashMap<>(s.globalPasids());
        g.put(40, 16);
        assertThat(broken(withGlobal(s, g))).containsExactly(Invariant.PASID_RANGE);
        int mmPasid = f.core.mmPasid(mm);
        // corrupt the aux domain so that it claims the mm's PASID
        AuxEngine.AuxDomain ad = f.core.auxEngine.domains.get(aux);
        AuxEngine.AuxDomain fake = new AuxEngine.AuxDomain(mmPasid);
        fake.devices.putAll(ad.devices);
        f.core.auxEngine.domains.put(aux, fake);
        assertThat(PasidInvariants.check(f.core.snapshot(), hw())).anyMatch(
                x -> x.invariant() == Invariant.PASID_RANGE && x.message().contains("owned by both"));
    }

    @Test
    @DisplayName("I-MM-PASID broken: the mm's PASID freed behind its back, changed, or dropped while the process runs")
    void mmPasid() {
        CoreSnapshot before = f.core.snapshot();
        int p = f.core.mmPasid(mm);
        f.core.globalPasids.free(p);
        assertThat(broken(f.core.snapshot())).contains(Invariant.MM_PASID);
        f.core.globalPasids.alloc(1 << 20); // takes p back
        Map<MmStruct, CoreSnapshot.MmState> moved = Map.of(mm, new CoreSnapshot.MmState(p + 1,
                before.mms().get(mm).svaDomains()));
        CoreSnapshot after = new CoreSnapshot(before.defDomainType(), before.dmaStrict(), before.iommus(),
                before.groups(), before.devices(), before.domains(), before.globalPasids(), moved,
                before.svaDomains(), before.auxDomains(), before.iopf(), before.reservedPasidSlots());
        assertThat(PasidInvariants.check(before, after, hw())).anyMatch(
                x -> x.invariant() == Invariant.MM_PASID && x.message().contains("changed"));
        CoreSnapshot gone = new CoreSnapshot(before.defDomainType(), before.dmaStrict(), before.iommus(),
                before.groups(), before.devices(), before.domains(), before.globalPasids(), Map.of(),
                Map.of(), before.auxDomains(), before.iopf(), before.reservedPasidSlots());
        assertThat(PasidInvariants.check(before, gone, hw())).anyMatch(
                x -> x.invariant() == Invariant.MM_PASID && x.message().contains("still runs"));
    }

    @Test
    @DisplayName("I-SVA-REF broken: users differ from the bonds; a domain with users off its mm's list")
    void svaRef() {
        SvaEngine.SvaDomain sd = f.core.sva.domains.get(bond.domain());
        sd.users++;
        assertThat(broken(f.core.snapshot())).containsExactly(Invariant.SVA_REF);
        sd.users--;
        f.core.sva.mms.get(mm).svaDomains.clear();
        assertThat(broken(f.core.snapshot())).containsExactly(Invariant.SVA_REF);
    }

    @Test
    @DisplayName("I-IOPF-ONCE broken: a group answered twice, a pending group with an answer")
    void iopfOnce() {
        synchronized (held.param) {
            held.responses = 1; // answered, yet still pending
        }
        assertThat(broken(f.core.snapshot())).containsExactly(Invariant.IOPF_ONCE);
        synchronized (held.param) {
            held.pending = false;
            held.responses = 2;
        }
        assertThat(PasidInvariants.check(f.core.snapshot(), hw())).hasSize(1)
                .allMatch(x -> x.message().contains("answered 2 times"));
    }

    @Test
    @DisplayName("I-PASID-SLOT: the hardware of a member without PASIDs must have no PASID entries")
    void nonPasidMember() {
        CoreSnapshot s = f.core.snapshot();
        org.jiommu.bus.PlatformDevice p = f.add("p");
        CoreSnapshot t = f.core.snapshot();
        Function<Device, Map<Integer, IommuDomain>> lying = dev -> dev == p ? Map.of(3, d) : hw().apply(dev);
        assertThat(PasidInvariants.check(t, lying)).hasSize(1).allMatch(x -> x.invariant() == Invariant.PASID_SLOT);
        assertThat(PasidInvariants.check(s, t, hw())).isEmpty();
    }
}
