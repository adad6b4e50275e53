package org.jiommu.scenario;

import java.util.List;
import java.util.Set;

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
        List<Reserved> reserved,
        String driver) {

    public enum Bus { PCI, PLATFORM }

    /** A PCI address; {@code devfn} = device << 3 | function. */
    public record Bdf(int segment, int bus, int devfn) {
        @Override
        public String toString() {
            return String.format("%04x:%02x:%02x.%x", segment, bus, devfn >> 3, devfn & 7);
        }

        /** Parses {@code bb:dd.f} or {@code ssss:bb:dd.f} (hex fields); null if malformed. */
        static Bdf parse(String s) {
            String[] parts = s.split(":");
            int seg = 0;
            int i = 0;
            if (parts.length == 3) {
                seg = hex(parts[0], 4, 0xffff);
                i = 1;
            } else if (parts.length != 2) {
                return null;
            }
            int bus = hex(parts[i], 2, 0xff);
            String[] df = parts[i + 1].split("\\.");
            if (df.length != 2 || seg < 0 || bus < 0) {
                return null;
            }
            int dev = hex(df[0], 2, 0x1f);
            int fn = hex(df[1], 1, 7);
            if (dev < 0 || fn < 0) {
                return null;
            }
            return new Bdf(seg, bus, dev << 3 | fn);
        }

        private static int hex(String s, int maxLen, int max) {
            if (s.isEmpty() || s.length() > maxLen) {
                return -1;
            }
            try {
                int v = Integer.parseInt(s, 16);
                return v <= max ? v : -1;
            } catch (NumberFormatException e) {
                return -1;
            }
        }
    }

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
