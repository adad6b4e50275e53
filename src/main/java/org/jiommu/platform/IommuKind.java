package org.jiommu.platform;

import java.util.List;
import java.util.Map;

/**
 * An IOMMU kind: one hardware model and the driver that programs it (mock, vtd; smmuv3, smmuv2
 * next), as a plug-in of the {@link Platform}. The floors above (scenario, check, cli) only
 * see this interface and {@link IommuUnits}; a kind registers itself with one line in
 * {@code META-INF/services/org.jiommu.platform.IommuKind} (or {@link IommuKinds#register} from
 * a test). See docs/DESIGN.md "Adding an IOMMU kind".
 */
public interface IommuKind {
    /** The word scenario files and stress configs name the kind by ({@code vtd}, {@code mock}). */
    String name();

    /**
     * The options a scenario file's entry of this kind may give, by key, beside the common ones
     * every entry takes ({@code iotlb-entries}, {@code default-domain}, {@code strict}); the
     * reader refuses any other key and hands {@link #create} the checked values.
     */
    default Map<String, KindOption> options() {
        return Map.of();
    }

    /** Rules among a unit's checked options that {@link #options} cannot express (none by default). */
    default List<KindOption.Problem> optionProblems(Map<String, Object> options) {
        return List.of();
    }

    /** What a device behind this kind's units must or must not declare (default: stream-id masters). */
    default DeviceRules deviceRules() {
        return DeviceRules.streamIds(name());
    }

    /**
     * Builds this kind's IOMMUs on {@code platform} (hardware, driver, registration where the
     * kind registers at once), before any device exists. Units are named by their specs; a
     * device is behind unit {@code u} when {@link Platform#iommuOf} says so.
     */
    IommuUnits create(Platform platform, List<UnitSpec> specs);

    /**
     * The platform of a stress run on this kind, with the devices of the stress-bed contract
     * (docs/check.md 4): probed, in their groups, the frame baseline taken.
     */
    StressBed stressBed(StressBed.Shape shape);

    /**
     * Whether {@link #stressBed} builds a bed; a kind without one (yet) is left out of a
     * {@code jiommu stress} run that names no file, and its {@code stressBed} throws
     * {@link IllegalArgumentException}.
     */
    default boolean hasStressBed() {
        return true;
    }

    /**
     * The {@code platform:} section of a scenario file (YAML, starting with the line
     * {@code platform:}) that builds the same devices, with the same names and groups, as
     * {@link #stressBed} for {@code shape}: what a failing serial stress run's reproducing
     * scenario runs on ({@code jiommu stress}, docs/check.md 6). Null when the kind gives none;
     * then no reproducing file is written for its runs.
     */
    default String stressBedScenario(StressBed.Shape shape) {
        return null;
    }

    /**
     * The CPU page-table format of the machines this IOMMU sits in: what a scenario's
     * {@code mm_create} builds a process table in (an SVA domain shares it). x86-64 unless the
     * kind says otherwise (an Arm SMMU: arm64).
     */
    default org.jiommu.mm.CpuFormat cpuFormat() {
        return org.jiommu.mm.CpuFormat.X86_64;
    }
}
