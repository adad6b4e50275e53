package org.jiommu.bus.pci;

/**
 * A PCI address as scenarios and lspci write it: {@code bb:dd.f} (segment 0) or
 * {@code ssss:bb:dd.f}, hexadecimal.
 */
public record Bdf(int segment, int bus, int devfn) {
    public Bdf {
        if (segment < 0 || segment > 0xffff || bus < 0 || bus > 0xff || devfn < 0 || devfn > 0xff) {
            throw new IllegalArgumentException(String.format("bad PCI address %x:%x:%x", segment, bus, devfn));
        }
    }

    /**
     * Parses {@code [ssss:]bb:dd.f}.
     *
     * @throws IllegalArgumentException naming the text when it is not a PCI address
     */
    public static Bdf parse(String text) {
        String[] parts = text.trim().split(":");
        try {
            if (parts.length < 2 || parts.length > 3) {
                throw new NumberFormatException();
            }
            int segment = parts.length == 3 ? Integer.parseInt(parts[0], 16) : 0;
            int bus = Integer.parseInt(parts[parts.length - 2], 16);
            String[] df = parts[parts.length - 1].split("\\.");
            if (df.length != 2) {
                throw new NumberFormatException();
            }
            return new Bdf(segment, bus, devfn(Integer.parseInt(df[0], 16), Integer.parseInt(df[1], 16)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("\"" + text + "\" is not a PCI address [ssss:]bb:dd.f");
        }
    }

    /** {@code PCI_DEVFN(slot, func)}; slot 0..31, function 0..7. */
    public static int devfn(int slot, int function) {
        if (slot < 0 || slot > 31 || function < 0 || function > 7) {
            throw new IllegalArgumentException("slot " + slot + " function " + function + " outside 0..31 / 0..7");
        }
        return slot << 3 | function;
    }

    public int slot() {
        return devfn >> 3;
    }

    public int function() {
        return devfn & 7;
    }

    /** bus << 8 | devfn. */
    public int requesterId() {
        return bus << 8 | devfn;
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%x", segment, bus, slot(), function());
    }
}
