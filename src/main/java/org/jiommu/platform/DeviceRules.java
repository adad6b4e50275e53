package org.jiommu.platform;

import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What a device behind an IOMMU of one kind must or must not declare in a scenario file
 * ({@link IommuKind#deviceRules}); the scenario reader applies these rules and words its
 * messages with them, naming no kind itself.
 *
 * @param title the hardware as prose names it in messages ("VT-d", "SMMUv2", "mock")
 * @param requesterIds true: the hardware sees PCI requester IDs only (a DMAR unit): a platform
 *     device cannot be behind it and {@code stream-ids} are refused; false: firmware gives
 *     stream IDs (IORT / device tree): a platform device needs {@code stream-ids}, a PCI
 *     function may give them or is matched by its requester ID
 * @param firmwareRegions the reserved-region kinds ({@code direct}, {@code msi}, ...) firmware can
 *     report for a device, or null for any
 * @param firmwareRegionsWhat what firmware reports, for the message refusing another kind
 *     (e.g. "RMRRs only (direct or direct-relaxable)"); null when {@code firmwareRegions} is
 * @param contextSwitch whether a unit with these options has masters that switch their own
 *     context (an SMMUv2 GPU, S02/S10): {@code context-switch: true} is accepted only then
 * @param contextSwitchWhere the units that have them, for messages ("an smmuv2"); null if none can
 * @param oneBus whether one unit serves devices of one bus type only (the mock's single
 *     device_group rule)
 * @param dmaCanStall whether a unit with these options takes firmware's {@code dma-can-stall} for a
 *     platform master (an SMMUv3 with the stall model): {@code dma-can-stall: true} is accepted only then
 * @param dmaCanStallWhere the units that take it, for messages ("an smmuv3 with stall-model: true");
 *     null if none can
 */
public record DeviceRules(String title, boolean requesterIds, Set<String> firmwareRegions,
                          String firmwareRegionsWhat, Predicate<Map<String, Object>> contextSwitch,
                          String contextSwitchWhere, boolean oneBus,
                          Predicate<Map<String, Object>> dmaCanStall, String dmaCanStallWhere) {
    public DeviceRules {
        firmwareRegions = firmwareRegions == null ? null : Set.copyOf(firmwareRegions);
    }

    /** A kind whose units see PCI requester IDs only. */
    public static DeviceRules requesterIds(String title) {
        return new DeviceRules(title, true, null, null, o -> false, null, false, o -> false, null);
    }

    /** A kind whose masters firmware names by stream IDs (PCI functions: their requester ID by default). */
    public static DeviceRules streamIds(String title) {
        return new DeviceRules(title, false, null, null, o -> false, null, false, o -> false, null);
    }

    /** These rules, firmware reporting only the reserved-region kinds {@code kinds}. */
    public DeviceRules firmwareRegions(String what, String... kinds) {
        return new DeviceRules(title, requesterIds, Set.of(kinds), what, contextSwitch, contextSwitchWhere, oneBus,
                dmaCanStall, dmaCanStallWhere);
    }

    /** These rules, with context-switching masters on units whose options meet {@code when}. */
    public DeviceRules contextSwitch(String where, Predicate<Map<String, Object>> when) {
        return new DeviceRules(title, requesterIds, firmwareRegions, firmwareRegionsWhat, when, where, oneBus, dmaCanStall,
                dmaCanStallWhere);
    }

    /** These rules, one unit serving one bus type. */
    public DeviceRules oneBusPerUnit() {
        return new DeviceRules(title, requesterIds, firmwareRegions, firmwareRegionsWhat, contextSwitch,
                contextSwitchWhere, true, dmaCanStall, dmaCanStallWhere);
    }

    /** These rules, with stall-capable platform masters ({@code dma-can-stall}) on units whose options meet {@code when}. */
    public DeviceRules dmaCanStall(String where, Predicate<Map<String, Object>> when) {
        return new DeviceRules(title, requesterIds, firmwareRegions, firmwareRegionsWhat, contextSwitch,
                contextSwitchWhere, oneBus, when, where);
    }
}
