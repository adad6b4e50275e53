package org.jiommu.check;

import org.jiommu.platform.HardwareView;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 */
public final class TraceHardwareView implements HardwareView {
    private final Map<String, IommuDomain> rid = new HashMap<>();
    private final Map<String, TreeMap<Integer, IommuDomain>> pasids = new HashMap<>();
    private final Set<String> unknown = new HashSet<>();
    private final Map<String, Boolean> held = new HashMap<>();
    /** Devices whose last RID write was the core's release-domain attach. */
    private final Set<String> releaseAttached = new HashSet<>();
    private final boolean frozen;

    public TraceHardwareView() {
        this.frozen = false;
    }

    private TraceHardwareView(TraceHardwareView src) {
        this.frozen = true;
        rid.putAll(src.rid);
        src.pasids.forEach((k, v) -> pasids.put(k, new TreeMap<>(v)));
        unknown.addAll(src.unknown);
        held.putAll(src.held);
        releaseAttached.addAll(src.releaseAttached);
    }

    /** An immutable copy of the current state. */
    public synchronized TraceHardwareView copy() {
        return new TraceHardwareView(this);
    }

    /** An immutable copy of the devices {@code devs} only (a scoped check asks about no other). */
    public synchronized TraceHardwareView copy(Collection<Device> devs) {
        TraceHardwareView v = new TraceHardwareView(true);
        for (Device d : devs) {
            String n = d.name();
            IommuDomain r = rid.get(n);
            if (r != null) {
                v.rid.put(n, r);
            }
            TreeMap<Integer, IommuDomain> p = pasids.get(n);
            if (p != null) {
                v.pasids.put(n, new TreeMap<>(p));
            }
            if (unknown.contains(n)) {
                v.unknown.add(n);
            }
            Boolean h = held.get(n);
            if (h != null) {
                v.held.put(n, h);
            }
            if (releaseAttached.contains(n)) {
                v.releaseAttached.add(n);
            }
        }
        return v;
    }

    private TraceHardwareView(boolean frozen) {
        this.frozen = frozen;
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
        List<String> a = TraceText.driverArgs(text);
        String result = TraceText.driverResult(text);
        switch (function) {
            case "attach_dev": {
                if (a.size() < 2 || !TraceText.ok(result)) {
                    return;
                }
                String dev = a.get(1);
                IommuDomain d = resolve.apply(a.get(0));
                setRid(dev, d);
                if (text.endsWith("[release]")) {
                    releaseAttached.add(dev);
                }
                break;
            }
            case "set_dev_pasid": {
                if (a.size() < 3 || !TraceText.ok(result)) {
                    return;
                }
                String dev = a.get(1);
                int pasid;
                try {
                    pasid = (int) TraceText.number(a.get(2));
                } catch (NumberFormatException e) {
                    unknown.add(dev);
                    return;
                }
                IommuDomain d = resolve.apply(a.get(0));
                if (d == null) {
                    unknown.add(dev);
                } else if (d.isStatic() && d.type() == DomainType.BLOCKED) {
                    // iommu_remove_dev_pasid: the blocked domain's set_dev_pasid clears the entry
                    pasids.computeIfAbsent(dev, k -> new TreeMap<>()).remove(pasid);
                } else {
                    pasids.computeIfAbsent(dev, k -> new TreeMap<>()).put(pasid, d);
                }
                break;
            }
            case "probe_device":
                // an ERR_PTR ("-errno") or a NULL (a driver bug the core stops at) holds nothing
                if (a.size() == 1 && !result.startsWith("-") && !result.equals("NULL")) {
                    held.put(a.get(0), true);
                }
                break;
            case "release_device":
                // release_device has no result part: "(dev)"
                if (text.startsWith("(") && text.endsWith(")")) {
                    String dev = text.substring(1, text.length() - 1);
                    held.put(dev, false);
                    if (!releaseAttached.contains(dev) && rid.containsKey(dev)) {
                        unknown.add(dev); // no release domain: the driver parked it, untraced
                    }
                }
                break;
            default:
                break;
        }
    }

    private void setRid(String dev, IommuDomain d) {
        releaseAttached.remove(dev);
        if (d == null) {
            unknown.add(dev);
            rid.remove(dev);
        } else {
            unknown.remove(dev);
            rid.put(dev, d);
        }
    }

    @Override
    public synchronized boolean knows(Device dev) {
        return !unknown.contains(dev.name());
    }

    @Override
    public synchronized IommuDomain rid(Device dev) {
        return rid.get(dev.name());
    }

    @Override
    public synchronized Map<Integer, IommuDomain> pasids(Device dev) {
        TreeMap<Integer, IommuDomain> m = pasids.get(dev.name());
        return m == null ? Map.of() : Map.copyOf(m);
    }

    @Override
    public synchronized Boolean driverHolds(Device dev) {
        return held.get(dev.name());
    }

    @Override
    public int liveDriverDomains() {
        return -1;
    }
}
