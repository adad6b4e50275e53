package org.jiommu.driver.mock;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.base.Errno;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.pgtable.IoPageTable;
import org.jiommu.platform.HardwareView;
import org.jiommu.platform.HwWalk;
import org.jiommu.platform.IommuKind;
import org.jiommu.platform.KindUnits;
import org.jiommu.platform.Platform;
import org.jiommu.platform.StressBed;
import org.jiommu.platform.StressPlant;

/**
 * The mock kind's IOMMUs on one platform: one {@link MockIommuDriver} per unit, each its own
 * instance registered with the core at boot ({@link #start}), after the boot devices are on
 * their buses (so registration probes them, as {@code iommu_device_register} does).
 */
public final class MockUnits extends KindUnits<MockIommuDriver> {
    /** Boot devices firmware says switch their own context (declared once their driver registered). */
    private final List<Device> contextSwitch = new ArrayList<>();
    private boolean started;

    MockUnits(IommuKind kind, Platform platform) {
        super(kind, platform, "a mock IOMMU");
    }

    /** Drivers a test built itself, already registered with the core. */
    public static MockUnits adopt(Platform platform, MockIommuDriver... mocks) {
        MockUnits u = new MockUnits(new MockKind(), platform);
        for (MockIommuDriver m : mocks) {
            u.drivers.put(m.iommu().name(), m);
        }
        u.started = true;
        return u;
    }

    void add(String name, MockIommuDriver drv) {
        drivers.put(name, drv);
    }

    /** Every driver, in unit order. */
    public List<MockIommuDriver> drivers() {
        return List.copyOf(drivers.values());
    }


    @Override
    public void enumerate(Firmware fw, boolean hotplug) {
        Device dev = fw.dev();
        MockIommuDriver drv = drivers.get(fw.iommu());
        if (!fw.regions().isEmpty()) {
            drv.setResvRegions(dev, fw.regions());
        }
        if (fw.contextSwitch() && !started) {
            contextSwitch.add(dev);
        }
        platform.fwspecAndAdd(dev, drv.iommu(), fw.streamIds(), hotplug);
    }

    @Override
    public void start() {
        if (!started) {
            for (MockIommuDriver drv : drivers.values()) {
                platform.core().iommuDeviceRegister(drv.iommu());
            }
            started = true;
        }
        for (Device d : contextSwitch) {
            // firmware says the master can switch its own tables (the seed-002 GPU)
            driverOf(d).declareContextSwitchCapable(d);
        }
        contextSwitch.clear();
    }

    @Override
    public DmaEngine engine(Device dev) {
        return new DmaEngine(dev, platform.sourceId(dev), driverOf(dev).hardware(), platform.memory());
    }

    @Override
    public HardwareView view(CoreSnapshot s) {
        return new MockHardwareView(drivers(), HardwareView.fwspecMap(s));
    }

    @Override
    public HwWalk walk(Device dev, int pasid, long iova) {
        String iommu = platform.iommuOf(dev);
        MockIommuDriver d = iommu == null ? null : drivers.get(iommu);
        return d == null ? null : MockWalk.walk(iommu, d.hardware(), platform.memory(), platform.sourceId(dev), pasid, iova);
    }

    @Override
    public IoPageTable pageTable(IommuDomain d) {
        return d instanceof MockDomain m ? m.pgtable() : null;
    }

    @Override
    public String dump(String iommu, DomainLabels labels) {
        return MockDump.dump(iommu, drivers.get(iommu), platform.devicesOn(iommu), labels);
    }

    @Override
    public String stats(String iommu) {
        MockHardware hw = drivers.get(iommu).hardware();
        return String.format("%s: %d translations, %d faults, %d descriptor reads (no IOTLB: every request walks)%n",
                iommu, hw.translations(), hw.faults(), hw.walkReads());
    }

    @Override
    public long[] cacheStats() {
        return new long[] {0, 0}; // the mock hardware has no IOTLB: every request walks
    }

    @Override
    public Object state(CoreSnapshot s) {
        List<MockSnapshot> out = new ArrayList<>();
        for (MockIommuDriver d : drivers.values()) {
            out.add(d.snapshot());
        }
        return out;
    }

    @Override
    @SuppressWarnings("unchecked")
    public Object stateWithout(Object state, Set<IommuDomain> created) {
        List<MockSnapshot> drv = new ArrayList<>();
        for (MockSnapshot s : (List<MockSnapshot>) state) {
            Map<IommuDomain, List<MockSnapshot.Leaf>> tables = new LinkedHashMap<>(s.tables());
            tables.keySet().removeIf(created::contains);
            drv.add(new MockSnapshot(s.probed(), s.programmed(), s.pasids(), s.iopfRefcount(),
                    s.liveDomains().stream().filter(d -> !created.contains(d)).toList(), tables));
        }
        return drv;
    }

    /**
     * Per instance the snapshot, with the RID entry of an unprobed device on its driver's release
     * domain counted as idle ({@code iommu_deinit_device} parks a failed probe there).
     */
    @Override
    public Object failNthState(CoreSnapshot s) {
        Map<IommuDevice, MockSnapshot> mocks = new LinkedHashMap<>();
        for (MockIommuDriver m : drivers.values()) {
            MockSnapshot ms = m.snapshot();
            Map<Device, IommuDomain> rid = new LinkedHashMap<>(ms.programmed());
            for (CoreSnapshot.DeviceState d : s.devices()) {
                if (d.iommu() == null && m.releaseDomain() != null && rid.get(d.dev()) == m.releaseDomain()) {
                    rid.remove(d.dev());
                }
            }
            mocks.put(m.iommu(), new MockSnapshot(ms.probed(), rid, ms.pasids(), ms.iopfRefcount(),
                    ms.liveDomains(), ms.tables()));
        }
        return mocks;
    }

    @Override
    public long tablePages() {
        long n = 0;
        for (MockIommuDriver m : drivers.values()) {
            for (IommuDomain d : m.snapshot().liveDomains()) {
                if (d instanceof MockDomain && ((MockDomain) d).pgtable() != null) {
                    n += tablePages(((MockDomain) d).pgtable());
                }
            }
        }
        return n;
    }

    /** The table pages of a live table: its root and one per table descriptor. */
    private static long tablePages(IoPageTable t) {
        long[] n = {1};
        t.walk((level, iova, size, pte, leaf) -> {
            if (!leaf) {
                n[0]++;
            }
        });
        return n[0];
    }

    @Override
    public void switchContext(Device dev, long ttbr0) {
        driverOf(dev).gpuSwitchTtbr0(dev, ttbr0);
    }

    /**
     * The mock's stress plants: {@code iopf-refcount-leak} (the driver forgets to drop IOPF
     * references, S19: its own check WARNs) and {@code set-dev-pasid-eio} ({@code set_dev_pasid}
     * fails with -EIO on the last PASID function, an errno no race explains).
     */
    @Override
    public Map<String, StressPlant> plants() {
        MockIommuDriver m = drivers.values().iterator().next();
        return Map.of(
                "iopf-refcount-leak", StressPlant.of(StressPlant.When.BUILD,
                        "the mock driver forgets to drop IOPF references (S19): its own check WARNs",
                        MockUnits::needsPasidChurn, bed -> m.leakIopfRefcount(true)),
                "set-dev-pasid-eio", StressPlant.of(StressPlant.When.BUILD,
                        "set_dev_pasid fails -EIO on the last PASID function: an errno no race explains",
                        MockUnits::needsPasidChurn, bed -> m.failSetDevPasid(null,
                                bed.pasidDevices().get(bed.pasidDevices().size() - 1), -1, Errno.EIO)));
    }

    /** Both mock plants act on the PASID calls (IOPF references, set_dev_pasid): null if the bed churns them. */
    private static String needsPasidChurn(StressBed bed) {
        return bed.shape().pasids() && !bed.pasidDevices().isEmpty() ? null
                : "it acts on the PASID calls, and the bed has no PASID churn (a shared PCI function with PASIDs and PRI)";
    }
}
