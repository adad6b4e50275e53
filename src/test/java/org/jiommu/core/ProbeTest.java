package org.jiommu.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.core.Fixture.fails;

import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.base.Prot;
import org.jiommu.bus.Device;
import org.jiommu.bus.PlatformDevice;
import org.jiommu.bus.pci.Acs;
import org.jiommu.bus.pci.PciBus;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.driver.mock.MockConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SEMANTICS.md 13, scenarios 1-26: probe, default domain choice and setup, direct mappings, sysfs type. */
class ProbeTest {
    @Test
    @DisplayName("#1 probe basic: DMA_FQ default domain, one attach with old=null")
    void probeBasic() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        assertThat(g).isNotNull();
        assertThat(g.defaultDomain().type()).isEqualTo(DomainType.DMA_FQ);
        assertThat(g.domain()).isSameAs(g.defaultDomain());
        assertThat(f.m.calls("attach_dev")).containsExactly("attach_dev(" + g.defaultDomain() + ", a, old=null) = 0");
        assertThat(f.m.programmed(a)).isSameAs(g.defaultDomain());
        assertThat(f.core.deviceDmaIommu(a)).isTrue();
    }

    @Test
    @DisplayName("#2 probe idempotent: a second probe returns 0 with no driver call and no state change")
    void probeIdempotent() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        CoreSnapshot before = f.core.snapshot();
        int calls = f.m.events().size();
        f.core.probeDevice(a);
        assertThat(f.m.events()).hasSize(calls);
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#3 iommu.passthrough=1: the default domain is the driver's static identity domain")
    void passthroughCmdline() {
        Fixture f = new Fixture(CoreConfig.builder().passthrough(true).build());
        assertThat(f.core.defDomainType()).isEqualTo(DomainType.IDENTITY);
        PlatformDevice a = f.add("a");
        assertThat(f.group(a).defaultDomain()).isSameAs(f.m.identityDomain());
        assertThat(f.group(a).domain()).isSameAs(f.m.identityDomain());
        assertThat(f.core.deviceDmaIommu(a)).isFalse();
    }

    @Test
    @DisplayName("#4 iommu.strict=1 without passthrough: default type DMA, not DMA_FQ")
    void strict() {
        Fixture f = new Fixture(CoreConfig.builder().strict(true).build());
        PlatformDevice a = f.add("a");
        assertThat(f.group(a).defaultDomain().type()).isEqualTo(DomainType.DMA);
    }

    @Test
    @DisplayName("#4 global default: build passthrough gives IDENTITY, memory encryption forces DMA_FQ, set_dma_strict downgrades")
    void globalDefault() {
        assertThat(new IommuCore(CoreConfig.builder().defaultPassthrough(true).build()).defDomainType())
                .isEqualTo(DomainType.IDENTITY);
        assertThat(new IommuCore(CoreConfig.builder().defaultPassthrough(true).memEncrypt(true).build()).defDomainType())
                .isEqualTo(DomainType.DMA_FQ);
        // an explicit passthrough is kept even with memory encryption
        assertThat(new IommuCore(CoreConfig.builder().passthrough(true).memEncrypt(true).build()).defDomainType())
                .isEqualTo(DomainType.IDENTITY);
        assertThat(new IommuCore(CoreConfig.builder().passthrough(false).build()).defDomainType())
                .isEqualTo(DomainType.DMA_FQ);
        IommuCore c = new IommuCore();
        c.setDmaStrict();
        assertThat(c.defDomainType()).isEqualTo(DomainType.DMA);
        assertThat(c.dmaStrict()).isTrue();
    }

    @Test
    @DisplayName("#5 driver forces DMA over a global IDENTITY default")
    void driverForcesDma() {
        Fixture f = new Fixture(CoreConfig.builder().passthrough(true).build());
        PlatformDevice a = f.plat("a");
        f.m.setDefDomainType(a, DomainType.DMA);
        f.core.deviceAdd(a);
        assertThat(f.group(a).defaultDomain().type()).isEqualTo(DomainType.DMA);
    }

    @Test
    @DisplayName("#6 identity unsupported: falls back to DMA with a log line, probe succeeds")
    void identityFallback() {
        Fixture f = new Fixture(CoreConfig.builder().passthrough(true).build(),
                MockConfig.builder("M").staticIdentity(false).build());
        PlatformDevice a = f.add("a");
        assertThat(f.group(a).defaultDomain().type()).isEqualTo(DomainType.DMA);
        assertThat(f.logged("Falling back to IOMMU_DOMAIN_DMA")).isTrue();
    }

    @Test
    @DisplayName("#6 identity through domain_alloc_identity when there is no static identity domain")
    void identityAllocOp() {
        Fixture f = new Fixture(CoreConfig.builder().passthrough(true).build(),
                MockConfig.builder("M").staticIdentity(false).identityAllocOp(true).build());
        PlatformDevice a = f.add("a");
        IommuDomain def = f.group(a).defaultDomain();
        assertThat(def.type()).isEqualTo(DomainType.IDENTITY);
        assertThat(def.isStatic()).isFalse();
        assertThat(def.owner()).isSameAs(f.m.ops());
        assertThat(f.m.calls("domain_alloc_identity")).containsExactly("domain_alloc_identity(a) = ok");
    }

    @Test
    @DisplayName("#7 untrusted PCI device under global IDENTITY gets a strict DMA domain")
    void untrusted() {
        Fixture f = new Fixture(CoreConfig.builder().passthrough(true).build());
        PciDevice a = f.pci("a", true);
        f.core.deviceAdd(a);
        assertThat(f.group(a).defaultDomain().type()).isEqualTo(DomainType.DMA);
    }

    @Test
    @DisplayName("#8 untrusted device whose driver wants IDENTITY: probe fails -EINVAL, no group")
    void untrustedIdentityRefused() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a", true);
        f.m.setDefDomainType(a, DomainType.IDENTITY);
        fails(Errno.EINVAL, () -> f.core.deviceAdd(a));
        assertThat(f.group(a)).isNull();
        assertThat(f.core.devIommu(a)).isNull();
        assertThat(f.core.groups()).isEmpty();
        assertThat(f.logged("Device is not trusted")).isTrue();
        assertThat(f.core.liveDomains()).isEmpty();
    }

    @Test
    @DisplayName("#9 conflicting driver preferences in one PCI group (no ACS): IDENTITY wins, conflict logged")
    void conflictingPreferences() {
        Fixture f = new Fixture(MockConfig.builder("M").grouping(MockConfig.Grouping.PCI).build());
        PciTopology topo = new PciTopology();
        PciBus below = topo.rootBus(0, 0).rootPort("rp0", 0x1c, 0, 1, Acs.NONE);
        PciDevice a = below.endpoint("a", 0, 0);
        PciDevice b = below.endpoint("b", 0, 1);
        f.core.fwspecInit(a, f.m.iommu());
        f.core.fwspecInit(b, f.m.iommu());
        f.m.setDefDomainType(a, DomainType.DMA);
        f.m.setDefDomainType(b, DomainType.IDENTITY);
        f.boot(a, b);
        assertThat(f.group(a)).isSameAs(f.group(b));
        assertThat(f.group(a).devices()).containsExactly(a, b);
        assertThat(f.group(a).defaultDomain()).isSameAs(f.m.identityDomain());
        assertThat(f.logged("conflicting def_domain_type")).isTrue();
    }

    @Test
    @DisplayName("#9 PCI grouping: functions below an ACS root port get separate groups")
    void pciAcsSeparates() {
        Fixture f = new Fixture(MockConfig.builder("M").grouping(MockConfig.Grouping.PCI).build());
        PciTopology topo = new PciTopology();
        PciBus root = topo.rootBus(0, 0);
        PciDevice a = root.rootPort("rp0", 0x1c, 0, 1, Acs.ISOLATED).endpoint("a", 0, 0);
        PciDevice b = root.rootPort("rp1", 0x1d, 0, 2, Acs.ISOLATED).endpoint("b", 0, 0);
        f.core.fwspecInit(a, f.m.iommu());
        f.core.fwspecInit(b, f.m.iommu());
        f.boot(a, b);
        assertThat(f.group(a)).isNotSameAs(f.group(b));
        // pci_device_group on a platform device is a driver bug
        PlatformDevice p = f.plat("p");
        int w = f.core.warningCount();
        fails(Errno.EINVAL, () -> f.core.deviceAdd(p));
        assertThat(f.warningsSince(w)).anyMatch(s -> s.startsWith("pci_device_group"));
    }

    @Test
    @DisplayName("#10 legacy static default domain: always the default; sysfs type shows unknown")
    void legacyDefault() {
        Fixture f = new Fixture(MockConfig.builder("M").legacyDefaultDomain(DomainType.PLATFORM).build());
        PlatformDevice a = f.add("a");
        assertThat(f.group(a).defaultDomain()).isSameAs(f.m.legacyDefaultDomain());
        assertThat(f.group(a).domain()).isSameAs(f.m.legacyDefaultDomain());
        assertThat(f.core.groupShowType(f.group(a))).isEqualTo("unknown");
    }

    @Test
    @DisplayName("#11 PASID flag refused with -EOPNOTSUPP: a second allocation without flags succeeds")
    void pasidFlagFallback() {
        Fixture f = new Fixture(MockConfig.builder("M").pasidFlagSupported(false).build());
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        assertThat(f.core.devIommu(a).maxPasids()).isEqualTo(1 << 20);
        assertThat(f.m.calls("domain_alloc_paging", "domain_alloc_paging_flags")).containsExactly(
                "domain_alloc_paging_flags(a, 0x8) = -95",
                "domain_alloc_paging(a) = ok");
        assertThat(f.group(a).defaultDomain().type()).isEqualTo(DomainType.DMA_FQ);
    }

    @Test
    @DisplayName("#11 a PASID-capable device's default domain is asked with IOMMU_HWPT_ALLOC_PASID")
    void pasidFlagAsked() {
        Fixture f = new Fixture();
        PciDevice a = f.pci("a");
        f.core.deviceAdd(a);
        assertThat(f.m.calls("domain_alloc_paging", "domain_alloc_paging_flags"))
                .containsExactly("domain_alloc_paging_flags(a, 0x8) = ok");
        PlatformDevice b = f.add("b"); // no PASIDs: plain domain_alloc_paging
        assertThat(f.m.calls("domain_alloc_paging", "domain_alloc_paging_flags")).last()
                .isEqualTo("domain_alloc_paging(b) = ok");
    }

    @Test
    @DisplayName("#12 device_group returns NULL: WARN, probe -EINVAL, release_device called, dev->iommu freed")
    void deviceGroupNull() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.deviceGroupReturnsNull(a, true);
        int w = f.core.warningCount();
        fails(Errno.EINVAL, () -> f.core.deviceAdd(a));
        assertThat(f.warningsSince(w)).anyMatch(s -> s.contains("device_group(a) returned NULL"));
        assertThat(f.m.calls("probe_device", "device_group", "release_device"))
                .containsExactly("probe_device(a) = 0", "device_group(a) = NULL", "release_device(a)");
        assertThat(f.core.devIommu(a)).isNull();
        assertThat(f.group(a)).isNull();
    }

    @Test
    @DisplayName("#13 probe_device fails -ENODEV: probe returns -ENODEV, nothing left allocated")
    void probeDeviceError() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.failProbe(a, Errno.ENODEV);
        fails(Errno.ENODEV, () -> f.core.deviceAdd(a));
        assertThat(f.core.devIommu(a)).isNull();
        assertThat(f.core.groups()).isEmpty();
        assertThat(f.core.liveDomains()).isEmpty();
        assertThat(f.m.calls()).containsExactly("probe_device(a) = -19");
    }

    @Test
    @DisplayName("#14 hot-add joins an existing group on its current domain, direct mappings made first")
    void hotAddJoins() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        PlatformDevice b = f.plat("b");
        f.m.groupWith(b, a);
        f.m.setResvRegions(b, List.of(ResvRegion.direct(0x8000_0000L, 0x1000)));
        f.m.clearEvents();
        f.core.deviceAdd(b);
        IommuGroup g = f.group(a);
        assertThat(f.group(b)).isSameAs(g);
        assertThat(g.devices()).containsExactly(a, b);
        assertThat(f.m.calls("map_pages", "attach_dev")).containsExactly(
                "map_pages(" + g.defaultDomain() + ", 0x80000000, 0x80000000, 0x1000 x 1) = 0 mapped 0x1000",
                "attach_dev(" + g.defaultDomain() + ", b, old=null) = 0");
        assertThat(f.core.devIommu(b).requireDirect()).isTrue();
    }

    @Test
    @DisplayName("#15 hot-add into a group owned by VFIO: the new device is attached to the blocking domain")
    void hotAddOwned() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        f.core.groupClaimDmaOwner(g, "vfio");
        PlatformDevice b = f.plat("b");
        f.m.groupWith(b, a);
        f.core.deviceAdd(b);
        assertThat(g.domain()).isSameAs(f.m.blockedDomain());
        assertThat(f.m.programmed(b)).isSameAs(f.m.blockedDomain());
        assertThat(f.m.calls("attach_dev")).last().isEqualTo("attach_dev(M.blocked, b, old=null) = 0");
    }

    @Test
    @DisplayName("#16 hot-add RMR device into an owned group: -EINVAL, removed again, group unchanged")
    void hotAddRmrOwned() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuGroup g = f.group(a);
        f.core.groupClaimDmaOwner(g, "vfio");
        CoreSnapshot.GroupState before = f.core.snapshot().group(g.id());
        PlatformDevice b = f.plat("b");
        f.m.groupWith(b, a);
        f.m.setResvRegions(b, List.of(ResvRegion.direct(0x8000_0000L, 0x1000)));
        fails(Errno.EINVAL, () -> f.core.deviceAdd(b));
        assertThat(f.core.snapshot().group(g.id())).isEqualTo(before);
        assertThat(f.group(b)).isNull();
        assertThat(f.core.devIommu(b)).isNull();
        assertThat(f.logged("Firmware has requested this device have a 1:1 IOMMU mapping")).isTrue();
    }

    @Test
    @DisplayName("#17 DIRECT region: the DMA default domain maps exactly 3 identity pages, require_direct set")
    void directMapping() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x3000)));
        f.core.deviceAdd(a);
        IommuDomain def = f.group(a).defaultDomain();
        for (long p = 0x1000_0000L; p < 0x1000_3000L; p += 0x1000) {
            assertThat(f.core.iovaToPhys(def, p + 0x10)).isEqualTo(p + 0x10);
        }
        assertThat(f.core.iovaToPhys(def, 0x1000_3000L)).isZero();
        assertThat(f.core.iovaToPhys(def, 0x0fff_f000L)).isZero();
        assertThat(f.m.calls("map_pages")).containsExactly(
                "map_pages(" + def + ", 0x10000000, 0x10000000, 0x1000 x 3) = 0 mapped 0x3000");
        assertThat(f.core.devIommu(a).requireDirect()).isTrue();
    }

    @Test
    @DisplayName("#18 direct region with unaligned start: the start is rounded up")
    void directUnaligned() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0800L, 0x1000)));
        f.core.deviceAdd(a);
        IommuDomain def = f.group(a).defaultDomain();
        assertThat(f.core.iovaToPhys(def, 0x1000_0800L)).isZero();
        assertThat(f.core.iovaToPhys(def, 0x1000_1000L)).isEqualTo(0x1000_1000L);
        assertThat(f.core.iovaToPhys(def, 0x1000_2000L)).isZero();
        assertThat(f.m.calls("map_pages")).containsExactly(
                "map_pages(" + def + ", 0x10001000, 0x10001000, 0x1000 x 1) = 0 mapped 0x1000");
    }

    @Test
    @DisplayName("#19 two devices of one group report the same DIRECT page: mapped once, no error")
    void overlappingDirect() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        PlatformDevice b = f.plat("b");
        f.m.groupWith(b, a);
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x2000_0000L, 0x2000)));
        f.m.setResvRegions(b, List.of(ResvRegion.direct(0x2000_1000L, 0x2000)));
        f.boot(a, b);
        IommuDomain def = f.group(a).defaultDomain();
        assertThat(f.group(b)).isSameAs(f.group(a));
        assertThat(f.m.calls("map_pages")).containsExactly(
                "map_pages(" + def + ", 0x20000000, 0x20000000, 0x1000 x 2) = 0 mapped 0x2000",
                "map_pages(" + def + ", 0x20002000, 0x20002000, 0x1000 x 1) = 0 mapped 0x1000");
        assertThat(f.core.devIommu(a).requireDirect()).isTrue();
        assertThat(f.core.devIommu(b).requireDirect()).isTrue();
    }

    @Test
    @DisplayName("#20 direct region in an identity default domain: no map call, require_direct still set")
    void directIdentity() {
        Fixture f = new Fixture(CoreConfig.builder().passthrough(true).build());
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(ResvRegion.direct(0x1000_0000L, 0x3000)));
        f.core.deviceAdd(a);
        assertThat(f.m.calls("map_pages")).isEmpty();
        assertThat(f.core.devIommu(a).requireDirect()).isTrue();
    }

    @Test
    @DisplayName("#21 DIRECT_RELAXABLE: mapped in the DMA domain, no require_direct, device can be claimed")
    void directRelaxable() {
        Fixture f = new Fixture();
        PlatformDevice a = f.plat("a");
        f.m.setResvRegions(a, List.of(new ResvRegion(0x1000_0000L, 0x1000, Prot.RW, ResvType.DIRECT_RELAXABLE),
                new ResvRegion(0x3000_0000L, 0x1000, Prot.RW, ResvType.RESERVED)));
        f.core.deviceAdd(a);
        IommuDomain def = f.group(a).defaultDomain();
        assertThat(f.core.iovaToPhys(def, 0x1000_0000L)).isEqualTo(0x1000_0000L);
        assertThat(f.core.iovaToPhys(def, 0x3000_0000L)).isZero(); // RESERVED is only reported
        assertThat(f.core.devIommu(a).requireDirect()).isFalse();
        f.core.groupClaimDmaOwner(f.group(a), "vfio");
        assertThat(f.group(a).domain()).isSameAs(f.m.blockedDomain());
    }

    @Test
    @DisplayName("#22 sysfs type write without CAP_SYS_ADMIN: -EACCES")
    void sysfsPermission() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        fails(Errno.EACCES, () -> f.core.groupStoreType(f.group(a), "DMA", false));
    }

    @Test
    @DisplayName("#23 sysfs type write while a driver is bound: -EPERM, domain unchanged")
    void sysfsWhileBound() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        f.core.deviceUseDefaultDomain(a);
        CoreSnapshot before = f.core.snapshot();
        fails(Errno.EPERM, () -> f.core.groupStoreType(f.group(a), "identity", true));
        assertThat(f.core.snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("#24 sysfs DMA -> DMA-FQ with a bound driver: same domain object retagged in place")
    void sysfsDmaToFq() {
        Fixture f = new Fixture(CoreConfig.builder().strict(true).build());
        PlatformDevice a = f.add("a");
        f.core.deviceUseDefaultDomain(a);
        IommuDomain def = f.group(a).defaultDomain();
        assertThat(def.type()).isEqualTo(DomainType.DMA);
        assertThat(f.core.groupStoreType(f.group(a), "DMA-FQ\n", true)).isEqualTo(7);
        assertThat(f.group(a).defaultDomain()).isSameAs(def);
        assertThat(def.type()).isEqualTo(DomainType.DMA_FQ);
        assertThat(f.core.groupShowType(f.group(a))).isEqualTo("DMA-FQ");
    }

    @Test
    @DisplayName("#24 sysfs identity on an unbound group: a new default domain, the old one freed")
    void sysfsToIdentity() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        IommuDomain old = f.group(a).defaultDomain();
        assertThat(f.core.groupStoreType(f.group(a), "identity", true)).isEqualTo(8);
        assertThat(f.group(a).defaultDomain()).isSameAs(f.m.identityDomain());
        assertThat(f.group(a).domain()).isSameAs(f.m.identityDomain());
        assertThat(old.isFreed()).isTrue();
        assertThat(f.m.programmed(a)).isSameAs(f.m.identityDomain());
        assertThat(f.core.groupShowType(f.group(a))).isEqualTo("identity");
        assertThat(f.core.deviceDmaIommu(a)).isFalse();
    }

    @Test
    @DisplayName("#25 sysfs bad string: -EINVAL")
    void sysfsBadString() {
        Fixture f = new Fixture();
        PlatformDevice a = f.add("a");
        fails(Errno.EINVAL, () -> f.core.groupStoreType(f.group(a), "foo", true));
    }

    @Test
    @DisplayName("#26 sysfs same type: returns the count, no new domain")
    void sysfsSameType() {
        Fixture f = new Fixture(CoreConfig.builder().strict(true).build());
        PlatformDevice a = f.add("a");
        IommuDomain def = f.group(a).defaultDomain();
        f.m.clearEvents();
        assertThat(f.core.groupStoreType(f.group(a), "DMA", true)).isEqualTo(3);
        assertThat(f.group(a).defaultDomain()).isSameAs(def);
        assertThat(f.m.calls()).isEmpty();
    }

    @Test
    @DisplayName("bus scan: devices present at boot are probed when their IOMMU registers, groups set up after")
    void registerProbesBus() {
        Fixture f = new Fixture();
        var n = f.newDriver(MockConfig.builder("N").build());
        PlatformDevice a = new PlatformDevice("a", List.of(1), 0);
        f.core.fwspecInit(a, n.iommu());
        f.core.busAddDevice(a);
        assertThat(f.group(a)).isNull();
        f.core.iommuDeviceRegister(n.iommu());
        assertThat(f.group(a)).isNotNull();
        assertThat(f.group(a).domain()).isSameAs(f.group(a).defaultDomain());
        assertThat(n.programmed(a)).isSameAs(f.group(a).defaultDomain());
        f.core.iommuDeviceUnregister(n.iommu());
        assertThat(f.group(a)).isNull();
        assertThat(n.programmed(a)).isSameAs(n.blockedDomain());
        fails(Errno.ENODEV, () -> f.core.probeDevice(a)); // its IOMMU is gone
        Device x = new PlatformDevice("x", List.of(2), 0);
        fails(Errno.ENODEV, () -> f.core.probeDevice(x)); // no fwspec at all
    }
}
