package org.jiommu.scenario;

import java.util.List;
import java.util.Set;
import org.jiommu.bus.pci.Bdf;

/** One device entry (platform.devices, or the argument of a device_add step). */
public record DeviceSpec(
        String name,
        Loc loc,
        Bus bus,
        Bdf bdf,
        String iommu,
        Set<String> caps,
        int pasidBits,
        boolean acs,
        Bdf aliasOf,
        List<Integer> streamIds,
        boolean contextSwitch,
        /** Firmware's dma-can-stall: a platform master whose transactions may stall (DeviceRules.dmaCanStall). */
        boolean dmaCanStall,
        List<Reserved> reserved,
        String driver) {

    public enum Bus { PCI, PLATFORM }

    /** A reserved region the firmware reports for the device (IORT RMR, RMRR, MSI window). */
    public record Reserved(Kind kind, long base, long size) {
        public enum Kind {
            DIRECT("direct"), DIRECT_RELAXABLE("direct-relaxable"), RESERVED("reserved"), MSI("msi");

            public final String word;

            Kind(String word) {
                this.word = word;
            }

            static Kind of(String w) {
                for (Kind k : values()) {
                    if (k.word.equals(w)) {
                        return k;
                    }
                }
                return null;
            }
        }
    }
}
