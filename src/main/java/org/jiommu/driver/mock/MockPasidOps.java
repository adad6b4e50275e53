package org.jiommu.driver.mock;

import static org.jiommu.driver.mock.MockIommuDriver.ret;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.Atc;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AllocFlags;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;
import org.jiommu.core.spi.IopfQueueRef;
import org.jiommu.core.spi.PageResponse;

/**
 * The mock driver's PASID and IOPF side: {@code set_dev_pasid} with its refusals and the
 * PASID-tagged ATC invalidations (S08), the attach-path IOPF references and queue membership
 * (S19), and {@code page_response}. A part of {@link MockIommuDriver}: its state lives there,
 * guarded by the driver's monitor.
 */
final class MockPasidOps {
    private final MockIommuDriver drv;

    MockPasidOps(MockIommuDriver drv) {
        this.drv = drv;
    }

    /**
     * S19: on a blocked or identity RID domain with no PASIDs the device's IOPF count must be zero;
     * a violation is reported as a WARN and the model carries on. Holds the driver's lock.
     */
    void checkIopfRefcount(Device dev, String where) {
        IommuDomain d = drv.programmed.get(dev);
        if (d != null && (d.type() == DomainType.BLOCKED || d.type() == DomainType.IDENTITY)
                && drv.pasids.getOrDefault(dev, new TreeMap<>()).isEmpty() && drv.iopfRefcount.getOrDefault(dev, 0) != 0) {
            drv.core.warnings().warn(where, dev + " on " + d + " with no PASIDs still has iopf_refcount "
                    + drv.iopfRefcount.get(dev));
        }
    }

    /** The domain carries a fault handler: attaching it takes an IOPF reference (v6.16 attach-path IOPF). */
    static boolean isIopf(IommuDomain d) {
        return d != null && (d.hasIopfHandler() || d instanceof MockDomain && ((MockDomain) d).iopfCapable);
    }

    /** The driver's IOPF queue, allocated on first use. */
    IopfQueueRef iopfQueue() {
        synchronized (drv) {
            if (drv.iopfQueue == null) {
                drv.iopfQueue = drv.core.iopfQueueAlloc("mock-" + drv.config.name() + "-iopf");
            }
            return drv.iopfQueue;
        }
    }

    /**
     * Before {@code dev} moves from {@code prev} to {@code next} (RID or one PASID): the first
     * IOPF-capable attachment puts the device on the driver's IOPF queue (PRI/stall enabled);
     * failing that fails the attach. Called without the driver's lock (the core takes its IOPF locks).
     */
    int iopfBefore(Device dev, IommuDomain prev, IommuDomain next) {
        boolean need;
        synchronized (drv) {
            need = isIopf(next) && !isIopf(prev) && !drv.iopfEnabled.contains(dev) && drv.probed.contains(dev);
        }
        if (!need || !drv.config.pageResponseOp()) {
            return 0;
        }
        int r;
        try {
            r = drv.core.iopfQueueAddDevice(iopfQueue(), dev);
        } catch (IommuException e) {
            r = e.errno().neg(); // the queue itself could not be allocated (fail_nth)
        }
        synchronized (drv) {
            if (r == 0) {
                drv.iopfEnabled.add(dev);
            }
            drv.record("iopf_queue_add_device", null, dev, null, "iopf_queue_add_device(" + dev + ") = " + ret(r), r);
        }
        return r;
    }

    /**
     * After an attachment change: the last IOPF reference gone, the device leaves the queue.
     * Called without the driver's lock.
     */
    void iopfAfter(Device dev) {
        boolean drop;
        synchronized (drv) {
            drop = drv.iopfEnabled.contains(dev) && drv.iopfRefcount.getOrDefault(dev, 0) == 0;
            if (drop) {
                drv.iopfEnabled.remove(dev);
            }
        }
        if (drop) {
            drv.core.iopfQueueRemoveDevice(iopfQueue(), dev);
            drv.record("iopf_queue_remove_device", null, dev, null, "iopf_queue_remove_device(" + dev + ")", 0);
        }
    }

    /**
     * {@code page_response}: the answer goes to the device (recorded, and kept for
     * {@link MockIommuDriver#pageResponses()}).
     */
    void pageResponse(Device dev, IopfFault last, PageResponse msg) {
        synchronized (drv) {
            drv.responses.add(msg);
        }
        drv.record("page_response", null, dev, null, "page_response(" + dev + ", "
                + (msg.pasidValid() ? "pasid=" + msg.pasid() + ", " : "") + "grp=" + msg.grpid() + ", " + msg.code() + ")", 0);
    }

    int setDevPasid(IommuDomain d, Device dev, int pasid, IommuDomain old) {
        IommuDomain before;
        synchronized (drv) {
            before = drv.programmedPasid(dev, pasid);
        }
        int r = iopfBefore(dev, before, d == drv.blockedDomain ? null : d);
        if (r != 0) {
            drv.record("set_dev_pasid", d, dev, old, "set_dev_pasid(" + d + ", " + dev + ", " + pasid + ", old=" + old
                    + ") = " + ret(r), r);
            return r;
        }
        r = setDevPasidLocked(d, dev, pasid, old);
        iopfAfter(dev);
        return r;
    }

    int setDevPasidLocked(IommuDomain d, Device dev, int pasid, IommuDomain old) {
        String text = "set_dev_pasid(" + d + ", " + dev + ", " + pasid + ", old=" + old + ")";
        int r;
        synchronized (drv) {
            Errno f = null;
            for (Object[] x : drv.failSetDevPasid) {
                if ((x[0] == null || x[0] == d) && (x[1] == null || x[1] == dev)
                        && ((int) x[2] == -1 || (int) x[2] == pasid)) {
                    f = (Errno) x[3];
                    break;
                }
            }
            if (f == null) {
                f = pasidRefusal(d, dev, pasid);
            }
            if (f != null) {
                r = f.neg();
            } else if (!drv.probed.contains(dev) || !drv.domains.ours(d)) {
                r = Errno.EINVAL.neg();
            } else {
                TreeMap<Integer, IommuDomain> m = drv.pasids.computeIfAbsent(dev, k -> new TreeMap<>());
                IommuDomain prev = d == drv.blockedDomain ? m.remove(pasid) : m.put(pasid, d);
                if (isIopf(prev) && !drv.faults.leakIopfRefcount()) {
                    drv.iopfRefcount.merge(dev, -1, Integer::sum);
                }
                if (d != drv.blockedDomain && isIopf(d)) {
                    drv.iopfRefcount.merge(dev, 1, Integer::sum);
                }
                if (drv.hardware != null) {
                    for (int sid : drv.sids.getOrDefault(dev, List.of())) {
                        drv.hardware.writePasid(sid, pasid, d == drv.blockedDomain ? null : MockDomainOps.entryFor(d));
                    }
                }
                drv.record("set_dev_pasid", d, dev, old, text + " = 0", 0);
                if (prev != null && prev != d) {
                    // the entry is written; flush the PASID-tagged ATCs under the same lock (S08)
                    invalidatePasidAtcs(dev, pasid, prev);
                }
                checkIopfRefcount(dev, "mock set_dev_pasid");
                return 0;
            }
            drv.record("set_dev_pasid", d, dev, old, text + " = " + ret(r), r);
            return r;
        }
    }

    /**
     * S08, after a PASID entry of {@code dev} changed away from {@code old}: ATC entries are
     * PASID-tagged, so the leaving device's ATC is invalidated for that PASID; when no device holds
     * {@code old} at that PASID any more, the tag may be reused, so every device that could have
     * cached it (those translating through the same RID domain, whose PASID table the entry hung
     * from) is invalidated too. Runs under this driver's lock together with the entry change, so
     * no device can join or leave in between. Holds the driver's lock.
     */
    void invalidatePasidAtcs(Device dev, int pasid, IommuDomain old) {
        atcInvalidate(dev, pasid);
        if (old == null) {
            return;
        }
        for (TreeMap<Integer, IommuDomain> m : drv.pasids.values()) {
            if (m.get(pasid) == old) {
                return; // other devices still use the entry: only the leaving device is flushed
            }
        }
        IommuDomain parent = drv.programmed.get(dev);
        for (Map.Entry<Device, IommuDomain> e : drv.programmed.entrySet()) {
            if (e.getKey() != dev && parent != null && e.getValue() == parent && drv.probed.contains(e.getKey())) {
                atcInvalidate(e.getKey(), pasid);
            }
        }
    }

    /** A PASID-selective ATC invalidation of one device (its ATS cache, if it has one). Holds the driver lock. */
    void atcInvalidate(Device dev, int pasid) {
        if (dev instanceof PciDevice && ((PciDevice) dev).atc() != null) {
            ((PciDevice) dev).atc().invalidate(pasid, false, 0, Atc.WHOLE_ADDRESS_SPACE);
        }
        drv.record("atc_inv", null, dev, null, "atc_inv(" + dev + ", pasid=" + pasid + ")", 0); // holds the driver's lock
    }

    /**
     * The driver's own reasons to refuse a {@code set_dev_pasid}, or null: the PASID-compat rule
     * (when configured) and the selftest's PASID-1024 fault. Holds the driver's lock.
     */
    Errno pasidRefusal(IommuDomain d, Device dev, int pasid) {
        boolean removal = d == drv.blockedDomain;
        if (!removal && drv.config.pasidCompatCheck()) {
            IommuDomain rid = drv.programmed.get(dev);
            if (!pasidCompat(d) || (rid != null && !pasidCompat(rid))) {
                return Errno.EINVAL;
            }
        }
        if (pasid == MockIommuDriver.TEST_PASID_RESERVED && drv.config.pasidReservedFault() && drv.probed.contains(dev)
                && drv.domains.ours(d)) {
            if (removal) {
                drv.pasidReservedArmed.remove(dev);
            } else if (drv.pasidReservedArmed.remove(dev)) {
                return Errno.ENOMEM; // the replace after a first attach fails, once
            } else {
                drv.pasidReservedArmed.add(dev);
            }
        }
        return null;
    }

    /**
     * A domain whose table format can sit under a PASID (and carry PASID entries under its RID):
     * static and table-less domains, and paging domains allocated with {@code IOMMU_HWPT_ALLOC_PASID}.
     */
    static boolean pasidCompat(IommuDomain d) {
        if (!(d instanceof MockDomain) || ((MockDomain) d).pgtable == null) {
            return true;
        }
        return (((MockDomain) d).allocFlags & AllocFlags.PASID) != 0;
    }
}
