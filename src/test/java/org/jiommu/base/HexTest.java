package org.jiommu.base;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;

class HexTest {
    @Property
    @Label("Hex.of is String.format(\"%#x\") for every long, negative and zero included")
    void sameAsFormatter(@ForAll long v) {
        assertThat(Hex.of(v)).isEqualTo(String.format("%#x", v));
    }
}
