package org.jiommu.core;

import java.util.List;
import java.util.Map;
import org.jiommu.bus.Device;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.mm.MmStruct;

/**
 * The core's global half at one instant ({@link IommuCore#globalSnapshot()}): what no one group
 * owns, read under the same locks as a whole {@link CoreSnapshot} (the probe lock, the aux and SVA
 * locks and every group mutex), without the per-group, per-device and per-domain records. The
 * components mean what {@link CoreSnapshot}'s do; {@code svaBonds} counts, per SVA domain, the SVA
 * handles stored in the PASID slots of every live group (what {@code iommu_sva_bind_device}'s
 * {@code domain->users} must equal, I-SVA-REF), so a check of one group's part of the platform can
 * still judge I-SVA-REF.
 *
 * @param svaBonds per SVA domain named by a stored SVA handle, how many handles store it
 */
public record CoreSnapshotGlobal(Map<Integer, Integer> globalPasids, Map<MmStruct, CoreSnapshot.MmState> mms,
                                 Map<IommuDomain, CoreSnapshot.SvaDomainState> svaDomains,
                                 Map<IommuDomain, CoreSnapshot.AuxDomainState> auxDomains,
                                 Map<Device, CoreSnapshot.IopfState> iopf,
                                 Map<Integer, List<Integer>> reservedPasidSlots,
                                 Map<IommuDomain, Integer> svaBonds) {
}
