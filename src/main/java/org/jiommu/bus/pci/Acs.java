package org.jiommu.bus.pci;

/**
 * A port's or function's ACS (Access Control Services) extended capability: which controls it
 * implements ({@link #capability()}) and which of those are enabled ({@link #control()}), with
 * the bit values of {@code PCI_ACS_*} in {@code include/uapi/linux/pci_regs.h}. Immutable.
 *
 * <p>{@link #NONE} is a function without the capability. The IOMMU core calls a function
 * isolated when {@link #REQ_ACS_FLAGS} are effectively enabled (see {@link #flagsEnabled}).
 */
public final class Acs {
    /** Source Validation. */
    public static final int SV = 0x0001;
    /** Translation Blocking. */
    public static final int TB = 0x0002;
    /** P2P Request Redirect. */
    public static final int RR = 0x0004;
    /** P2P Completion Redirect. */
    public static final int CR = 0x0008;
    /** Upstream Forwarding. */
    public static final int UF = 0x0010;
    /** P2P Egress Control. */
    public static final int EC = 0x0020;
    /** Direct Translated P2P. */
    public static final int DT = 0x0040;

    /**
     * What {@code pci_device_group} requires for isolation ({@code REQ_ACS_FLAGS} in
     * drivers/iommu/iommu.c): no requester-id spoofing, no P2P redirection of requests or
     * completions, everything forwarded upstream.
     */
    public static final int REQ_ACS_FLAGS = SV | RR | CR | UF;

    /** No ACS capability at all. */
    public static final Acs NONE = new Acs(false, 0, 0);
    /** The capability with {@link #REQ_ACS_FLAGS} implemented and enabled (what {@code pci_enable_acs} sets). */
    public static final Acs ISOLATED = new Acs(true, REQ_ACS_FLAGS, REQ_ACS_FLAGS);

    private final boolean present;
    private final int capability;
    private final int control;

    private Acs(boolean present, int capability, int control) {
        this.present = present;
        this.capability = capability;
        this.control = control;
    }

    /**
     * An ACS capability implementing {@code capability} with {@code control} enabled.
     *
     * @throws IllegalArgumentException if a bit is outside the seven defined controls
     */
    public static Acs of(int capability, int control) {
        int all = SV | TB | RR | CR | UF | EC | DT;
        if ((capability & ~all) != 0 || (control & ~all) != 0) {
            throw new IllegalArgumentException(String.format(
                    "ACS bits %#x/%#x outside the defined controls %#x", capability, control, all));
        }
        return new Acs(true, capability, control);
    }

    /** The scenario file's {@code acs: true|false}. */
    public static Acs isolated(boolean isolated) {
        return isolated ? ISOLATED : NONE;
    }

    /** Whether the function has an ACS extended capability. */
    public boolean present() {
        return present;
    }

    public int capability() {
        return capability;
    }

    public int control() {
        return control;
    }

    /**
     * {@code pci_acs_flags_enabled}: false without the capability; otherwise every required
     * control must be enabled, except that a control the capability does not implement counts
     * as hard-wired enabled (an unimplemented control means the port cannot do what the
     * control would block; the kernel reasons the same way). Egress Control is the exception: it is always checked.
     */
    public boolean flagsEnabled(int required) {
        if (!present) {
            return false;
        }
        int effective = required & (capability | EC);
        return (control & effective) == effective;
    }

    @Override
    public String toString() {
        return present ? String.format("ACS(cap %#x, ctrl %#x)", capability, control) : "no ACS";
    }
}
