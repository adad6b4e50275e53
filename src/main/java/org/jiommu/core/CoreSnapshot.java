package org.jiommu.core;

import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.CookieType;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.mm.MmStruct;

/**
 * The whole core at one instant ({@link IommuCore#snapshot()}). Value records: two snapshots are
 * equal iff the core is in the same state, comparing domains, devices, instances and owner
 * tokens by identity. Warnings and trace counters are deliberately left out: a call the kernel
 * answers with a WARN records one and still "changes nothing".
 *
 * @param defDomainType {@code iommu_def_domain_type}
 * @param dmaStrict {@code iommu_dma_strict}
 * @param iommus registered instances, in order
 * @param groups live groups in id order
 * @param devices every device the core knows, in first-seen order
 * @param domains domains allocated through the core and not freed, in allocation order
 * @param globalPasids allocated global PASIDs, each with the {@code max_pasids} it was allocated under
 * @param mms {@code mm->iommu_mm} of every mm with a PASID
 * @param svaDomains live SVA domains: their mm and {@code users}
 * @param auxDomains aux domains: their default PASID and the devices they are aux-attached to
 * @param iopf per device with an IOPF parameter: its queue, partial faults and pending groups
 * @param reservedPasidSlots per group id, PASID slots holding a reservation placeholder (a
 *     snapshot is taken with every group mutex held, so any entry here is a leak: I-PASID-SLOT)
 */
public record CoreSnapshot(DomainType defDomainType, boolean dmaStrict, List<IommuDevice> iommus,
                           List<GroupState> groups, List<DeviceState> devices, List<DomainState> domains,
                           Map<Integer, Integer> globalPasids, Map<MmStruct, MmState> mms,
                           Map<IommuDomain, SvaDomainState> svaDomains, Map<IommuDomain, AuxDomainState> auxDomains,
                           Map<Device, IopfState> iopf, Map<Integer, List<Integer>> reservedPasidSlots) {

    /** The part-1 components only; the part-2 state is empty. */
    public CoreSnapshot(DomainType defDomainType, boolean dmaStrict, List<IommuDevice> iommus,
                        List<GroupState> groups, List<DeviceState> devices, List<DomainState> domains) {
        this(defDomainType, dmaStrict, iommus, groups, devices, domains, Map.of(), Map.of(), Map.of(), Map.of(),
                Map.of(), Map.of());
    }

    /**
     * {@code mm->iommu_mm}.
     *
     * @param pasid the mm's PASID
     * @param svaDomains the SVA domains sharing the mm, in creation order
     */
    public record MmState(int pasid, List<IommuDomain> svaDomains) {
    }

    /** An SVA domain's {@code mm} and {@code users} (bonds through it). */
    public record SvaDomainState(MmStruct mm, int users) {
    }

    /**
     * An aux domain.
     *
     * @param pasid its default PASID, or {@link IommuCore#IOMMU_PASID_INVALID} on a table-only driver
     * @param devices the devices it is aux-attached to, in attach order
     */
    public record AuxDomainState(int pasid, List<Device> devices) {
    }

    /**
     * A device's IOPF parameter ({@code dev->iommu->fault_param}).
     *
     * @param queue the queue's name
     * @param partial faults of groups whose last request has not come yet
     * @param pending groups handed to a handler and not answered yet, by group serial
     * @param responses per group not yet freed (pending or answered), by serial, the page responses it got
     */
    public record IopfState(String queue, int partial, List<Long> pending, Map<Long, Integer> responses) {
    }

    /**
     * One group.
     *
     * @param devices members in insertion order
     * @param domain {@code group->domain}
     * @param pasids non-reserved PASID slots (slot 0 = group handle)
     */
    public record GroupState(int id, List<Device> devices, IommuDomain domain, IommuDomain defaultDomain,
                             IommuDomain blockingDomain, IommuDomain resettingDomain, Object owner, int ownerCnt,
                             Map<Integer, PasidEntry> pasids) {
    }

    /**
     * One device.
     *
     * @param onBus on its bus
     * @param fwspecIommu the instance firmware names, or null
     * @param iommu the instance that probed it, or null
     * @param groupId its group's id, or null
     */
    public record DeviceState(Device dev, boolean onBus, IommuDevice fwspecIommu, IommuDevice iommu, Integer groupId,
                              boolean attachDeferred, boolean requireDirect, int maxPasids, boolean dmaIommu) {
    }

    /** One allocated domain. */
    public record DomainState(IommuDomain domain, DomainType type, IommuOps owner, CookieType cookie,
                              long pgsizeBitmap) {
    }

    /** The group with this id, or null. */
    public GroupState group(int id) {
        for (GroupState g : groups) {
            if (g.id() == id) {
                return g;
            }
        }
        return null;
    }

    /** The state of this device, or null. */
    public DeviceState device(Device dev) {
        for (DeviceState d : devices) {
            if (d.dev() == dev) {
                return d;
            }
        }
        return null;
    }
}
