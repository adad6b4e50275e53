package org.jiommu.check;

import org.jiommu.platform.HardwareView;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDomain;

/**
 * The hardware state as the core's own trace describes it: every {@code attach_dev},
 * {@code set_dev_pasid}, {@code probe_device} and {@code release_device} the core made, replayed
 * per device (by name, as the trace names devices). It shows what the core told the hardware, for
 * any driver, so comparing it with the core's bookkeeping finds core bugs (a member never
 * attached, a group recording a domain it did not program); it cannot find driver bugs.
 *
 * <p>A device released by a driver with no release domain is parked by the driver itself,
 * untraced: its entry becomes unknown. Domains are resolved from their names when the event
 * arrives; an unresolvable name makes the entry unknown too.
 *
 * <p>Fed by one {@link CoreWatch}; {@link #copy()} gives an immutable view. Guarded by this.
 *
 * <p>Each device's state is one immutable {@link Dev} value, replaced on change: a copy (taken
 * at every checked call, scoped, and every whole check) copies references, never a device's
 * PASID table, and a driver event that is none of the four replayed ones is not parsed.
 */
public final class TraceHardwareView implements HardwareView {
    /**
     * One device's replayed state.
     *
     * @param rid the domain of its last successful RID attach, null if none or unresolvable
     * @param pasids its PASID entries (never modified once published), by PASID
     * @param unknown its entry cannot be known from the trace
     * @param held what probe_device/release_device last said (null: neither seen)
     * @param releaseAttached its last RID write was the core's release-domain attach
     */
    private record Dev(IommuDomain rid, SortedMap<Integer, IommuDomain> pasids, boolean unknown, Boolean held,
                       boolean releaseAttached) {
        static final Dev NONE = new Dev(null, null, false, null, false);

        Dev withUnknown(boolean u) {
            return new Dev(rid, pasids, u, held, releaseAttached);
        }
    }

    private final Map<String, Dev> devs;
    private final boolean frozen;

    public TraceHardwareView() {
        this.frozen = false;
        this.devs = new HashMap<>();
    }

    private TraceHardwareView(Map<String, Dev> devs) {
        this.frozen = true;
        this.devs = devs;
    }

    /** An immutable copy of the current state. */
    public synchronized TraceHardwareView copy() {
        return new TraceHardwareView(new HashMap<>(devs));
    }

    /** An immutable copy of the devices {@code devs} only (a scoped check asks about no other). */
    public synchronized TraceHardwareView copy(Collection<Device> devs) {
        Map<String, Dev> m = new HashMap<>();
        for (Device d : devs) {
            Dev v = this.devs.get(d.name());
            if (v != null) {
                m.put(d.name(), v);
            }
        }
        return new TraceHardwareView(m);
    }

    private Dev dev(String name) {
        return devs.getOrDefault(name, Dev.NONE);
    }

    /**
     * Replays one DRIVER trace event.
     *
     * @param function the driver op's name
     * @param text the event text
     * @param resolve domain name to domain, null if it cannot be resolved
     */
    public synchronized void onDriverEvent(String function, String text, Function<String, IommuDomain> resolve) {
        if (frozen) {
            throw new IllegalStateException("frozen view");
        }
        switch (function) {
            case "attach_dev": {
                List<String> a = TraceText.driverArgs(text);
                if (a.size() < 2 || !TraceText.ok(TraceText.driverResult(text))) {
                    return;
                }
                String dev = a.get(1);
                IommuDomain d = resolve.apply(a.get(0));
                setRid(dev, d);
                if (text.endsWith("[release]")) {
                    Dev v = dev(dev);
                    devs.put(dev, new Dev(v.rid(), v.pasids(), v.unknown(), v.held(), true));
                }
                break;
            }
            case "set_dev_pasid": {
                List<String> a = TraceText.driverArgs(text);
                if (a.size() < 3 || !TraceText.ok(TraceText.driverResult(text))) {
                    return;
                }
                String dev = a.get(1);
                Dev v = dev(dev);
                int pasid;
                try {
                    pasid = (int) TraceText.number(a.get(2));
                } catch (NumberFormatException e) {
                    devs.put(dev, v.withUnknown(true));
                    return;
                }
                IommuDomain d = resolve.apply(a.get(0));
                if (d == null) {
                    devs.put(dev, v.withUnknown(true));
                    return;
                }
                TreeMap<Integer, IommuDomain> p = v.pasids() == null ? new TreeMap<>() : new TreeMap<>(v.pasids());
                if (d.isStatic() && d.type() == DomainType.BLOCKED) {
                    // iommu_remove_dev_pasid: the blocked domain's set_dev_pasid clears the entry
                    p.remove(pasid);
                } else {
                    p.put(pasid, d);
                }
                devs.put(dev, new Dev(v.rid(), Collections.unmodifiableSortedMap(p), v.unknown(), v.held(),
                        v.releaseAttached()));
                break;
            }
            case "probe_device": {
                // an ERR_PTR ("-errno") or a NULL (a driver bug the core stops at) holds nothing
                List<String> a = TraceText.driverArgs(text);
                String result = TraceText.driverResult(text);
                if (a.size() == 1 && !result.startsWith("-") && !result.equals("NULL")) {
                    Dev v = dev(a.get(0));
                    devs.put(a.get(0), new Dev(v.rid(), v.pasids(), v.unknown(), true, v.releaseAttached()));
                }
                break;
            }
            case "release_device":
                // release_device has no result part: "(dev)"
                if (text.startsWith("(") && text.endsWith(")")) {
                    String dev = text.substring(1, text.length() - 1);
                    Dev v = dev(dev);
                    // no release domain: the driver parked it, untraced
                    boolean unknown = v.unknown() || (!v.releaseAttached() && v.rid() != null);
                    devs.put(dev, new Dev(v.rid(), v.pasids(), unknown, false, v.releaseAttached()));
                }
                break;
            default:
                break;
        }
    }

    private void setRid(String dev, IommuDomain d) {
        Dev v = dev(dev);
        // an unresolvable domain: unknown, no RID domain; else known on d (releaseAttached cleared)
        devs.put(dev, new Dev(d, v.pasids(), d == null, v.held(), false));
    }

    @Override
    public synchronized boolean knows(Device dev) {
        Dev v = devs.get(dev.name());
        return v == null || !v.unknown();
    }

    @Override
    public synchronized IommuDomain rid(Device dev) {
        Dev v = devs.get(dev.name());
        return v == null ? null : v.rid();
    }

    @Override
    public synchronized Map<Integer, IommuDomain> pasids(Device dev) {
        Dev v = devs.get(dev.name());
        return v == null || v.pasids() == null ? Map.of() : v.pasids();
    }

    @Override
    public synchronized Boolean driverHolds(Device dev) {
        Dev v = devs.get(dev.name());
        return v == null ? null : v.held();
    }

    @Override
    public int liveDriverDomains() {
        return -1;
    }
}
