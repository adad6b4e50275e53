package org.jiommu.core;

import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.CookieType;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;

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
 */
public record CoreSnapshot(DomainType defDomainType, boolean dmaStrict, List<IommuDevice> iommus,
                           List<GroupState> groups, List<DeviceState> devices, List<DomainState> domains) {

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
