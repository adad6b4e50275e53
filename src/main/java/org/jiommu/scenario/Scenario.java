package org.jiommu.scenario;

import java.util.List;

/** A validated scenario file: ready to run, every name resolved. */
public record Scenario(String file, String name, String description, PlatformSpec platform, List<Step> steps) {
}
