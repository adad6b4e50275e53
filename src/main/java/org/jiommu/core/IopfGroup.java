package org.jiommu.core;

import java.util.List;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IopfFault;

/**
 * {@code struct iopf_group}: the page requests of one group index, completed by its last
 * request, handed to the handler of the domain at the faulting PASID. It is answered at most
 * once (I-IOPF-ONCE): the first {@link IommuCore#iopfGroupResponse} sends the page response,
 * later ones do nothing.
 */
public final class IopfGroup {
    final long serial;
    final Device dev;
    final List<IopfFault> faults;
    final AttachHandle handle;
    final IopfEngine.FaultParam param;
    /** Guarded by the param's lock. */
    boolean pending = true;
    /** Page responses sent for this group. Guarded by the param's lock. */
    int responses;
    /** Guarded by the param's lock. */
    boolean freed;

    IopfGroup(long serial, Device dev, List<IopfFault> faults, AttachHandle handle, IopfEngine.FaultParam param) {
        this.serial = serial;
        this.dev = dev;
        this.faults = List.copyOf(faults);
        this.handle = handle;
        this.param = param;
    }

    /** A number unique within the core, for traces and snapshots. */
    public long serial() {
        return serial;
    }

    public Device device() {
        return dev;
    }

    /** The group's requests, the last one last. */
    public List<IopfFault> faults() {
        return faults;
    }

    /** {@code group->last_fault}. */
    public IopfFault lastFault() {
        return faults.get(faults.size() - 1);
    }

    /** The attach handle the fault was routed through. */
    public AttachHandle attachHandle() {
        return handle;
    }

    /** The domain whose handler got the group. */
    public IommuDomain domain() {
        return handle.domain();
    }

    /** True until the group is answered (or the device left its queue). */
    public boolean pending() {
        synchronized (param) {
            return pending;
        }
    }

    @Override
    public String toString() {
        return "iopf_group#" + serial + "(" + dev + ", " + faults.size() + " faults, grp " + lastFault().grpid() + ")";
    }
}
