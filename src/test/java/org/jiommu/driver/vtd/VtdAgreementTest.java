package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdRegisters.RTADDR_REG;

import java.util.List;
import org.jiommu.base.Prot;
import org.jiommu.core.IommuGroup;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mem.PhysicalMemory;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Invariant I7 with {@link VtdHardwareAgreement}: it holds after every core call of a life cycle
 * (probe, private domain, ownership, identity, release), and it fails when an entry in memory is
 * corrupted on purpose.
 */
class VtdAgreementTest {
    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("I7 holds after every core call of a device's life, but for the legacy shared bridge alias the "
            + "kernel clears under a sibling (domain_context_clear), which it reports")
    void holdsThroughALifeCycle(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 57);
        f.hotplug(f.nic, f.disk, f.leg0, f.leg1);
        IommuGroup g = f.core().groupGet(f.nic);
        IommuDomain d = f.core().pagingDomainAlloc(f.nic);
        f.core().map(d, 0, 0x2000_0000L, 0x20_0000, Prot.RW);
        f.agree();
        f.core().attachDevice(d, f.nic);
        f.agree();
        f.core().detachDevice(d, f.nic);
        f.agree();
        f.core().groupClaimDmaOwner(g, "vfio");
        f.agree();
        f.core().attachGroup(d, g);
        f.agree();
        f.core().detachGroup(d, g);
        f.agree();
        f.core().attachGroup(f.driver().identityDomain(), g);
        f.agree();
        f.core().detachGroup(f.driver().identityDomain(), g);
        f.agree();
        f.core().groupReleaseDmaOwner(g);
        f.agree();
        f.core().domainFree(d);
        f.agree();
        f.p.remove(f.disk);
        f.agree();
        f.p.remove(f.leg1);
        if (scalable) {
            f.agree();
        } else {
            // domain_context_clear has no count of an alias's users: leg1's release clears the
            // bridge alias leg0 still needs, and I7 reports it (a finding about the kernel)
            f.expectKernelFinding("leg0 rid 03:00.0: group is on");
        }
        f.p.remove(f.leg0);
        f.agree();
        f.p.remove(f.nic);
        f.agree();
        f.hotplug(f.nic);
        f.agree();
    }

    /** Address of the entry requests without PASID from {@code sid} use: the context entry, or the RID_PASID entry. */
    static long ridEntry(VtdFixture f, int sid) {
        PhysicalMemory m = f.p.memory();
        long root = f.unit().unit().read64(RTADDR_REG) & ~0xFFFL;
        long ct = m.readLong(root + (sid >>> 8) * 16L) & ~0xFFFL;
        if (!f.unit().scalableMode()) {
            return ct + (sid & 0xFF) * 16L;
        }
        long dir = m.readLong(ct + (sid & 0x7F) * 32L) & ~0xFFFL;
        return m.readLong(dir) & ~0xFFFL; // PASID 0: directory entry 0, table entry 0
    }

    private static void corruptAndRestore(VtdFixture f, long address, long xor, String expectInMessage) {
        PhysicalMemory m = f.p.memory();
        long saved = m.readLong(address);
        m.writeLong(address, saved ^ xor);
        List<String> v = VtdHardwareAgreement.check(f.p);
        assertThat(v).as("corruption %#x at %#x", xor, address).isNotEmpty();
        assertThat(String.join("\n", v)).contains(expectInMessage);
        m.writeLong(address, saved);
        f.agree();
    }

    @ParameterizedTest(name = "scalable {0}")
    @ValueSource(booleans = {false, true})
    @DisplayName("I7 fails when an entry is corrupted on purpose")
    void detectsCorruption(boolean scalable) {
        VtdFixture f = VtdFixture.secondStage(scalable, 48);
        f.hotplug(f.nic, f.disk);
        long e = ridEntry(f, f.nic.requesterId());
        long word1 = e + 8;
        // the domain id (legacy: hi bits 23:8, scalable: val1 bits 15:0)
        corruptAndRestore(f, word1, scalable ? 0x10 : 0x1000, "DID");
        // the table pointer
        corruptAndRestore(f, e, 0x1000, "is not");
        // The fixture's check after every core call sees a corruption at the next call.
        long good = f.p.memory().readLong(word1);
        f.p.memory().writeLong(word1, good ^ (scalable ? 0x10 : 0x1000));
        f.core().map(f.domain(f.disk), 0x1000, 0x2000_0000L, 0x1000, Prot.RW);
        assertThat(f.violations).anyMatch(v -> v.startsWith("after iommu_map: ") && v.contains("DID"));
        f.p.memory().writeLong(word1, good);
        f.violations.clear();
        // the present bit: the group's domain is no longer reachable
        corruptAndRestore(f, e, 1, "not present");
        // the address width
        corruptAndRestore(f, scalable ? e : word1, scalable ? 0x4 : 0x1, "AW");

        // A blocked device whose entry translates anyway.
        IommuGroup g = f.core().groupGet(f.disk);
        long diskEntry = ridEntry(f, f.disk.requesterId());
        long[] saved = {f.p.memory().readLong(diskEntry), f.p.memory().readLong(diskEntry + 8)};
        f.core().groupClaimDmaOwner(g, "vfio");
        f.agree();
        f.p.memory().writeLong(diskEntry + 8, saved[1]);
        f.p.memory().writeLong(diskEntry, saved[0]);
        assertThat(String.join("\n", VtdHardwareAgreement.check(f.p))).contains("blocked");
        f.p.memory().writeLong(diskEntry, 0);
        f.p.memory().writeLong(diskEntry + 8, 0);
        f.agree();

        if (scalable) {
            // A PASID entry the core knows nothing of.
            long other = ridEntry(f, f.nic.requesterId()) + 64L * 5;
            f.p.memory().writeLong(other + 8, 9);
            f.p.memory().writeLong(other, 0x2000_0000L | (2L << 2) | (2L << 6) | 1);
            assertThat(String.join("\n", VtdHardwareAgreement.check(f.p))).contains("PASID 5");
            f.p.memory().writeLong(other, 0);
            f.p.memory().writeLong(other + 8, 0);
            f.agree();
        }
    }
}
