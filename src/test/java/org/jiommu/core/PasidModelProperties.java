package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.IommuDomain;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * SEMANTICS.md 8.1/8.2 against a reference model (a map PASID -> domain): random attach, replace
 * and detach sequences on a group of two PASID-capable PCI functions and one platform device
 * without PASIDs, with one domain whose {@code set_dev_pasid} fails on the last member. After
 * every step the errno is the model's, the group's slots name the model's domains (I-PASID-SLOT),
 * every PASID-capable member's PASID entries agree with them, the member without PASIDs has
 * none, and no reservation is left behind.
 */
class PasidModelProperties {
    enum Kind { ATTACH, REPLACE, DETACH }

    record Step(Kind kind, int dom, int pasid, boolean withHandle) {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        return Combinators.combine(Arbitraries.of(Kind.class), Arbitraries.integers().between(0, 2),
                Arbitraries.integers().between(1, 4), Arbitraries.of(true, false)).as(Step::new)
                .list().ofMinSize(1).ofMaxSize(30);
    }

    @Property(tries = 150)
    @Label("#64-#74 I-PASID-SLOT: PASID attach/replace/detach follow the reference model, failures change nothing")
    void followsModel(@ForAll("steps") List<Step> steps, @ForAll("failing") int failing) {
        Fixture f = new Fixture();
        PlatformDevice p = f.plat("p");
        PciDevice a = f.pci("a");
        PciDevice b = f.pci("b");
        f.m.groupWith(a, p);
        f.m.groupWith(b, p);
        f.boot(p, a, b);
        IommuGroup g = f.group(a);
        IommuDomain[] doms = {f.core.pagingDomainAlloc(a), f.core.pagingDomainAlloc(a), f.core.pagingDomainAlloc(a)};
        if (failing >= 0) {
            f.m.failSetDevPasid(doms[failing], b, -1, Errno.ENOSPC);
        }
        Map<Integer, Integer> model = new HashMap<>();
        for (Step s : steps) {
            IommuDomain d = doms[s.dom()];
            AttachHandle h = s.withHandle() || s.kind() == Kind.REPLACE ? new AttachHandle() : null;
            Errno expected = null;
            Integer cur = model.get(s.pasid());
            switch (s.kind()) {
                case ATTACH:
                    expected = cur != null ? Errno.EBUSY : s.dom() == failing ? Errno.ENOSPC : null;
                    break;
                case REPLACE:
                    expected = cur == null ? Errno.EINVAL
                            : cur != s.dom() && s.dom() == failing ? Errno.ENOSPC : null;
                    break;
                default:
                    break;
            }
            CoreSnapshot before = f.core.snapshot();
            Errno got = null;
            try {
                switch (s.kind()) {
                    case ATTACH: f.core.attachDevicePasid(d, a, s.pasid(), h); break;
                    case REPLACE: f.core.replaceDevicePasid(d, b, s.pasid(), h); break;
                    default: f.core.detachDevicePasid(cur == null ? d : doms[cur], a, s.pasid());
                }
            } catch (IommuException e) {
                got = e.errno();
            }
            assertThat(got).as("%s", s).isEqualTo(expected);
            if (expected != null) {
                assertThat(f.core.snapshot()).as("failed %s changed the core", s).isEqualTo(before);
            } else if (s.kind() == Kind.DETACH) {
                model.remove(s.pasid());
            } else {
                model.put(s.pasid(), s.dom());
            }
            Map<Device, Map<Integer, IommuDomain>> hw = f.m.snapshot().pasids();
            assertThat(PasidInvariants.check(before, f.core.snapshot(), dev -> hw.getOrDefault(dev, Map.of())))
                    .as("after %s", s).isEmpty();
            Map<Integer, PasidEntry> slots = g.pasidEntries();
            assertThat(slots.keySet()).isEqualTo(model.keySet());
            assertThat(g.pasidArray.keySet()).isEqualTo(model.keySet());
            for (int pasid = 1; pasid <= 4; pasid++) {
                Integer want = model.get(pasid);
                IommuDomain wd = want == null ? null : doms[want];
                assertThat(slots.get(pasid) == null ? null : slots.get(pasid).domain()).isSameAs(wd);
                assertThat(f.m.programmedPasid(a, pasid)).as("a PASID %d", pasid).isSameAs(wd);
                assertThat(f.m.programmedPasid(b, pasid)).as("b PASID %d", pasid).isSameAs(wd);
                assertThat(f.m.programmedPasid(p, pasid)).isNull();
            }
        }
        assertThat(f.core.warningCount()).isZero();
    }

    @Provide
    Arbitrary<Integer> failing() {
        return Arbitraries.integers().between(-1, 2);
    }
}
