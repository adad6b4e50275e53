package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.core.spi.IommuDomain;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * SEMANTICS.md 6.6 / 7.2 as a reference model: random sequences of attach, detach, replace, claims,
 * releases, binds and unbinds on a two-device group (with an injected attach failure on one
 * private domain) must give the model's errno, domain, owner and count after every step, the
 * mock hardware must agree with the group's domain (I-UNIFORM), a failed call must change nothing
 * (I-ATOMIC), and a WARN must happen exactly where the model says.
 */
class GroupStateMachineProperties {
    enum Kind { ATTACH, DETACH, REPLACE, GROUP_CLAIM, DEVICE_CLAIM, GROUP_RELEASE, DEVICE_RELEASE, USE, UNUSE }

    /** One step: what, on which device (0/1), with which private domain (0/1) and owner token (0/1). */
    record Step(Kind kind, int dev, int dom, int token) {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        return Combinators.combine(Arbitraries.of(Kind.class), Arbitraries.integers().between(0, 1),
                Arbitraries.integers().between(0, 1), Arbitraries.integers().between(0, 1)).as(Step::new)
                .list().ofMinSize(1).ofMaxSize(40);
    }

    /** The reference model of one group's (domain, owner, owner_cnt). */
    static final class Model {
        static final int DEF = -1;
        static final int BLK = -2;
        int domain = DEF; // or 0 / 1 = private domain index
        Object owner;
        int cnt;

        /** Applies a step; returns the expected errno, null for success, or "WARN". */
        Object apply(Step s, Object[] tokens, int failingDomain) {
            switch (s.kind()) {
                case ATTACH:
                    if (domain >= 0) {
                        return Errno.EBUSY;
                    }
                    if (s.dom() == failingDomain) {
                        return Errno.ENOMEM;
                    }
                    domain = s.dom();
                    return null;
                case REPLACE:
                    if (domain == s.dom()) {
                        return null;
                    }
                    if (s.dom() == failingDomain) {
                        return Errno.ENOMEM;
                    }
                    domain = s.dom();
                    return null;
                case DETACH:
                    domain = owner != null ? BLK : DEF;
                    return null;
                case GROUP_CLAIM:
                    if (cnt != 0) {
                        return Errno.EPERM;
                    }
                    return take(tokens[s.token()]);
                case DEVICE_CLAIM:
                    if (cnt != 0) {
                        if (owner != tokens[s.token()]) {
                            return Errno.EPERM;
                        }
                        cnt++;
                        return null;
                    }
                    return take(tokens[s.token()]);
                case GROUP_RELEASE:
                    return release();
                case DEVICE_RELEASE:
                    if (cnt > 1) {
                        cnt--;
                        return null;
                    }
                    return release();
                case USE:
                    if (cnt != 0 && (domain != DEF || owner != null)) {
                        return Errno.EBUSY;
                    }
                    cnt++;
                    return null;
                case UNUSE:
                    if (cnt == 0) {
                        return "WARN";
                    }
                    cnt--;
                    return null;
                default:
                    throw new AssertionError(s);
            }
        }

        private Object take(Object token) {
            if (domain != DEF) {
                return Errno.EBUSY;
            }
            domain = BLK;
            owner = token;
            cnt++;
            return null;
        }

        private Object release() {
            if (cnt == 0 || owner == null) {
                return "WARN";
            }
            cnt = 0;
            owner = null;
            domain = DEF;
            return null;
        }
    }

    @Property(tries = 150)
    @Label("6.6 group RID-domain and ownership state machine matches the reference model step by step")
    void matchesModel(@ForAll("steps") List<Step> steps,
                      @ForAll KernelVersion version) {
        Fixture f = new Fixture(CoreConfig.builder().version(version).build());
        PlatformDevice a = f.plat("a");
        PlatformDevice b = f.plat("b");
        f.m.groupWith(b, a);
        f.boot(a, b);
        PlatformDevice[] devs = {a, b};
        IommuGroup g = f.group(a);
        IommuDomain[] doms = {f.core.pagingDomainAlloc(a), f.core.pagingDomainAlloc(a)};
        Object[] tokens = {"X", "Y"};
        // private domain 1 cannot be attached to b: every switch to it fails and is rolled back
        f.m.failAttach(doms[1], b, Errno.ENOMEM);
        Model model = new Model();
        for (Step s : steps) {
            CoreSnapshot before = f.core.snapshot();
            int warnings = f.core.warningCount();
            Object expected = model.apply(s, tokens, 1);
            Errno got = null;
            try {
                run(f, s, g, devs[s.dev()], doms[s.dom()], tokens[s.token()]);
            } catch (IommuException e) {
                got = e.errno();
            }
            String where = s + " in " + steps;
            if (expected instanceof Errno) {
                assertThat(got).as(where).isEqualTo(expected);
                assertThat(f.core.snapshot()).as("failed call changed the core: " + where).isEqualTo(before);
            } else {
                assertThat(got).as(where).isNull();
            }
            assertThat(f.core.warningCount() - warnings).as("warnings after " + where)
                    .isEqualTo("WARN".equals(expected) ? 1 : 0);
            IommuDomain want = model.domain == Model.DEF ? g.defaultDomain()
                    : model.domain == Model.BLK ? f.m.blockedDomain() : doms[model.domain];
            assertThat(g.domain()).as(where).isSameAs(want);
            assertThat(g.ownerCnt()).as(where).isEqualTo(model.cnt);
            assertThat(g.owner()).as(where).isSameAs(model.owner);
            for (PlatformDevice d : devs) {
                assertThat(f.m.programmed(d)).as("hardware of " + d + " after " + where).isSameAs(want);
            }
        }
    }

    private static void run(Fixture f, Step s, IommuGroup g, PlatformDevice dev, IommuDomain dom, Object token) {
        IommuCore c = f.core;
        switch (s.kind()) {
            case ATTACH: c.attachGroup(dom, g); break;
            case DETACH: c.detachGroup(dom, g); break;
            case REPLACE: c.groupReplaceDomain(g, dom); break;
            case GROUP_CLAIM: c.groupClaimDmaOwner(g, token); break;
            case DEVICE_CLAIM: c.deviceClaimDmaOwner(dev, token); break;
            case GROUP_RELEASE: c.groupReleaseDmaOwner(g); break;
            case DEVICE_RELEASE: c.deviceReleaseDmaOwner(dev); break;
            case USE: c.deviceUseDefaultDomain(dev); break;
            case UNUSE: c.deviceUnuseDefaultDomain(dev); break;
            default: throw new AssertionError(s);
        }
    }
}
