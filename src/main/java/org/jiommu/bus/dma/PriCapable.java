package org.jiommu.bus.dma;

/** A function with a PRI capability (PCIe 10.4): {@link DmaEngine} may send page requests for it. */
public interface PriCapable {
    /** The function's PRI state, or null without the capability. */
    Pri pri();
}
