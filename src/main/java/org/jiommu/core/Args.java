package org.jiommu.core;

import java.util.function.Supplier;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;

/**
 * Argument checks and errors shared by the public API and the engines: every public call of the
 * core validates its input this way and fails with {@link IommuException} before changing
 * anything. (Group checks need the live-group table: {@link CoreRegistry#requireGroup}.)
 */
final class Args {
    private Args() {
    }

    static IommuException err(Errno errno, String message) {
        return new IommuException(errno, message);
    }

    /** An exception for a driver's negative return value. */
    static IommuException driverErr(int ret, String what) {
        Errno e;
        try {
            e = Errno.fromCode(ret);
        } catch (IllegalArgumentException unknown) {
            e = Errno.ENODEV; // SEMANTICS.md 2.7: unknown attach errors are treated like -ENODEV
        }
        return new IommuException(e, what + " returned " + ret);
    }

    /** A kernel int return turned into the API's exception: nothing for 0, else the errno. */
    static void check(int ret, Supplier<String> what) {
        if (ret != 0) {
            throw err(Errno.fromCode(ret), what.get());
        }
    }

    static void requireDevice(Device dev, String fn) {
        if (dev == null) {
            throw err(Errno.EINVAL, fn + ": device is null");
        }
    }

    /** {@link #requireDevice}, returning the device (for one-line API entries). */
    static Device device(Device dev, String fn) {
        requireDevice(dev, fn);
        return dev;
    }

    /** {@link #requireDomain}, returning the domain (for one-line API entries). */
    static IommuDomain domain(IommuDomain d, String fn) {
        requireDomain(d, fn);
        return d;
    }

    /** A domain the core initialised and has not freed. */
    static void requireDomain(IommuDomain d, String fn) {
        if (d == null) {
            throw err(Errno.EINVAL, fn + ": domain is null");
        }
        if (!d.isInitialized()) {
            throw err(Errno.EINVAL, fn + ": domain " + d + " was never initialised by the core");
        }
        if (d.isFreed()) {
            throw err(Errno.EINVAL, fn + ": domain " + d + " was freed (use after free)");
        }
    }

    /**
     * After taking the mutex: the group still has members. A caller may hold a group whose last
     * device left meanwhile (the kernel keeps such a group alive by reference); -ENODEV then.
     */
    static void requireMembers(IommuGroup g, String fn) {
        if (g.devices.isEmpty()) {
            throw err(Errno.ENODEV, fn + ": " + g + " has no devices left");
        }
    }
}
