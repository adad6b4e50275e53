package org.jiommu.platform;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.bus.Device;
import org.jiommu.bus.dma.DmaEngine;
import org.jiommu.bus.dma.DmaResult;
import org.jiommu.bus.pci.PciTopology;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.pgtable.IoPageTable;

/**
 * One kind's IOMMUs on one {@link Platform}: its hardware units and their driver, built by
 * {@link IommuKind#create}. Everything the floors above need from a kind goes through here:
 * firmware description and probing of the devices behind the units, DMA wiring, the views the
 * checker compares with the core, {@code hw_dump}, statistics, fault words, stress plants.
 */
public interface IommuUnits {
    IommuKind kind();

    /** The units' names, in spec order. */
    List<String> names();

    /**
     * The PCI hierarchy the PCI functions behind these units are placed in, or null for the
     * platform's own ({@link Platform#topology()}).
     */
    default PciTopology topology() {
        return null;
    }

    /**
     * What firmware says of a device behind one of these units.
     *
     * @param dev the device, already placed in its topology
     * @param iommu the unit firmware names
     * @param streamIds the stream ids firmware gives (empty: the kind's default, e.g. the requester id)
     * @param regions the reserved regions firmware reports for it
     * @param contextSwitch firmware says the master switches its own tables (an SMMUv2 GPU)
     * @param dmaCanStall firmware's {@code dma-can-stall} (device tree) or IORT named-component
     *     stall flag: the platform master's transactions may wait for software (SMMUv3 stall model);
     *     a kind without a stall model ignores it, as the kernel's drivers do
     */
    record Firmware(Device dev, String iommu, List<Integer> streamIds, List<ResvRegion> regions,
                    boolean contextSwitch, boolean dmaCanStall) {
        /** A master firmware does not mark stall-capable. */
        public Firmware(Device dev, String iommu, List<Integer> streamIds, List<ResvRegion> regions,
                        boolean contextSwitch) {
            this(dev, iommu, streamIds, regions, contextSwitch, false);
        }
    }

    /**
     * Firmware describes {@code fw.dev()} and the device is put on its bus: hot-plugged
     * ({@code device_add}, probed at once) or at boot (probed by {@link #start}).
     */
    void enumerate(Firmware fw, boolean hotplug);

    /** Boot, once every boot device is enumerated: the units register (if not yet) and probe their devices. */
    void start();

    /** The DMA engine of {@code dev} (behind one of these units), wired to its unit and its ATC. */
    DmaEngine engine(Device dev);

    /** What the hardware holds for these units' devices, as domains ({@link HardwareView}). */
    HardwareView view(CoreSnapshot s);

    /** The entries decoded from memory for the hardware agreement (I7), or null if the kind has none. */
    default EntryView entries() {
        return null;
    }

    /** How a dump names a domain a device's entry points at. */
    interface DomainLabels {
        /** {@code dev} may be null (a table not reached from a device). */
        String label(Device dev, IommuDomain d);
    }

    /** {@code hw_dump} of unit {@code iommu}: its tables as the hardware walks them. */
    String dump(String iommu, DomainLabels labels);

    /**
     * The walk the hardware does for a request of {@code dev} (PASID {@code pasid}, or
     * {@code DmaTranslator.NO_PASID}) at {@code iova}, decoded from memory; null if the kind
     * cannot show one or the device is not behind these units ({@code jiommu serve}).
     */
    default HwWalk walk(Device dev, int pasid, long iova) {
        return null;
    }

    /**
     * The page table of one of these units' paging domains (its descriptors live in simulated
     * memory), or null if {@code d} has none here ({@code jiommu serve}'s table view).
     */
    default IoPageTable pageTable(IommuDomain d) {
        return null;
    }

    /** The counters of unit {@code iommu}, one or more lines ending in a newline. */
    String stats(String iommu);

    /** Translation-cache {hits, lookups} over these units (0, 0 if the hardware has no cache). */
    long[] cacheStats();

    /** The driver's state, compared before and after a call that must change nothing (equals). */
    Object state(CoreSnapshot s);

    /** {@code state} without the domains {@code created} (a blocking domain a failed claim may keep). */
    default Object stateWithout(Object state, Set<IommuDomain> created) {
        return state;
    }

    /** The driver state a fail_nth sweep compares (normalised as the kind documents). */
    default Object failNthState(CoreSnapshot s) {
        return state(s);
    }

    /** Page-table pages of the driver's live domains (fail_nth: frames nobody can reach). */
    default long tablePages() {
        return 0;
    }

    /** A fault in the scenario's words: its fault word and the detail. */
    record FaultText(String word, String detail) {
    }

    /** How a faulted DMA of one of these units' devices reads, or null for the generic reading. */
    default FaultText fault(DmaResult r, int pasid, String where) {
        return null;
    }

    /** Whether the frame allocator's baseline means "no domain" on these units (I10). */
    default boolean exactFrames() {
        return true;
    }

    /** A master switching its own context's table base (an SMMUv2 GPU, S10). */
    default void switchContext(Device dev, long ttbr0) {
        throw new UnsupportedOperationException(dev + " is behind " + kind().name()
                + ", which has no context-switching masters");
    }

    /** The bugs a stress run may plant on these units, by name. */
    default Map<String, StressPlant> plants() {
        return Map.of();
    }

    /** After a stress run's teardown: what the hardware must have drained (each problem one line). */
    default void afterStress(StressBed bed, List<String> problems) {
    }
}
