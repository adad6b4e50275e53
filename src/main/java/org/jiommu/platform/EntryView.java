package org.jiommu.platform;

import java.util.List;
import java.util.Map;
import org.jiommu.core.CoreSnapshot;
import org.jiommu.core.spi.IommuDomain;

/**
 * A kind's half of the hardware agreement (I7, {@link HardwareAgreement}): it decodes, with its
 * hardware decoders, the entries a device's requests would walk, straight from memory, and
 * checks the fields only it knows (domain ids, address widths, ...). The generic half decides
 * which entry each core state needs. One instance per check: it may collect state across
 * entries (a domain id naming two domains) and report it in {@link #finish}.
 */
public interface EntryView {
    /** How messages name the kind's domains ("a VT-d domain"). */
    String kindName();

    /** Problems of the units themselves (translation off ...), before any entry. */
    void start(List<String> out);

    /** One requester id of a device and the entry its requests without PASID walk. */
    record Requester(int id, String label, HwEntry entry) {
    }

    /**
     * What a device's requests walk.
     *
     * @param unit the unit's name, for messages
     * @param requesters each requester id the device may use, with its entry
     * @param pasidEntries the present PASID entries other than the RID's own, by PASID; null if
     *     the device has no PASID table
     */
    record Decoded(String unit, List<Requester> requesters, Map<Integer, HwEntry> pasidEntries) {
    }

    /** The device's entries, or null if none of these units covers it. */
    Decoded decode(CoreSnapshot.DeviceState ds);

    /** Whether {@code d} is a paging or SVA domain of this kind. */
    boolean owns(IommuDomain d);

    /** Whether {@code d} is an SVA domain (a process's first-level table). */
    boolean isSva(IommuDomain d);

    /** The table root a paging domain's entries must point at. */
    long tableOf(IommuDomain d);

    /** The kind's extra rules for an identity domain's pass-through entry. */
    boolean identityAgrees(HwEntry e);

    /** The kind's field rules for a paging domain's entry (pointer already checked). */
    void paging(String where, Decoded dd, IommuDomain d, HwEntry e, List<String> out);

    /** The kind's rules for a requester entry of a paging domain ({@code primary}: the device's own id). */
    void requester(String where, CoreSnapshot.DeviceState ds, Requester q, List<String> out);

    /** The kind's rules for an SVA domain's first-level entry (pointer included). */
    void firstLevel(String where, Decoded dd, IommuDomain d, HwEntry e, List<String> out);

    /** Problems found across entries, after all of them. */
    void finish(List<String> out);

    /**
     * Whether the driver itself holds the device blocked with no domain programmed: what a
     * failed {@code attach_dev} that blocked translation first leaves (VT-d). I7 then names the
     * disagreement as the kernel's doing. False for kinds whose failed attach changes nothing.
     */
    default boolean leftBlocked(CoreSnapshot.DeviceState ds) {
        return false;
    }
}
