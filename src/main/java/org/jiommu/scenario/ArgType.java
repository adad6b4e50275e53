package org.jiommu.scenario;

import java.util.List;

/** What an op argument holds, how it is written, and what a name in it must refer to. */
public enum ArgType {
    DEVICE("device name"),
    GROUP("device name (any device of the group)"),
    DOMAIN("domain name (bound with 'as')"),
    PASID("PASID: number or bound name"),
    NUMBER("number (decimal, 0x-hex, 4KiB...) or bound name"),
    PROT("list of read, write, noexec, mmio, cache"),
    TOKEN("any token string"),
    FEATURE("aux | sva | iopf", "aux", "sva", "iopf"),
    ATTR("ptbase", "ptbase"),
    DIR("to-device | from-device | bidirectional", "to-device", "from-device", "bidirectional"),
    DRIVER("dma-api | none", "dma-api", "none"),
    HEX("hex string of bytes, e.g. \"deadbeef\""),
    IOMMU("IOMMU name from platform.iommus"),
    MM("address-space name (from mm_create)"),
    NEW_NAME("a new name"),
    HANDLE("SVA handle name (bound with 'as')"),
    DEVICE_ENTRY("a device entry as in platform.devices"),
    CHECK("invariants", "invariants");

    public final String written;
    private final List<String> words;

    ArgType(String written, String... words) {
        this.written = written;
        this.words = List.of(words);
    }

    /** The allowed words of an enumerated argument; empty for other types. */
    public List<String> words() {
        return words;
    }
}
