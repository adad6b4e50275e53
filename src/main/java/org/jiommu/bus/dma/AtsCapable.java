package org.jiommu.bus.dma;

/**
 * A device with an ATS capability: it owns an address translation cache and a driver-controlled
 * ATS Enable bit ({@code pci_enable_ats} / {@code pci_disable_ats}). {@link DmaEngine} uses the
 * ATC only while ATS is enabled; a device without this interface always issues untranslated
 * requests.
 */
public interface AtsCapable {
    /** The device's ATC, or null when the device has no ATS capability. */
    Atc atc();

    /** The ATS Enable bit of the capability's control register. */
    boolean atsEnabled();
}
