package org.jiommu.check;

/**
 * The invariants the checker knows, by the names SEMANTICS.md section 11 and ARCHITECTURE.md
 * ("Invariants") give them. Some are properties of one state, checked on a {@link PlatformState};
 * the others are properties of one call, checked on the states before and after it plus what the
 * call did ({@link CallRecord}); docs/check.md lists which is which.
 */
public enum Invariant {
    /** SEMANTICS 11.1: group.domain is null, the default, the blocking or a live private domain. */
    GROUP_DOMAIN("I-GROUP-DOMAIN"),
    /** SEMANTICS 11.2: every member is programmed for group.domain (deferred / reset excepted). */
    UNIFORM("I-UNIFORM"),
    /** SEMANTICS 11.3: setting the domain a group already has makes no driver call and succeeds. */
    NOOP("I-NOOP"),
    /** SEMANTICS 11.4: a failed set leaves group.domain and every member's hardware entry as they were. */
    ATOMIC("I-ATOMIC"),
    /** SEMANTICS 11.5: owner set implies ownerCnt at least 1; ownerCnt 0 implies no owner. */
    OWNER("I-OWNER"),
    /** SEMANTICS 11.6: a claim leaves the group on its blocking domain, the last release on the default. */
    OWNED_DOMAIN("I-OWNED-DOMAIN"),
    /** SEMANTICS 11.7: a require_direct device is never put on a BLOCKED or the blocking domain. */
    RMR("I-RMR"),
    /** SEMANTICS 11.8: a DMA-API driver binds only into an unused, or un-owned default-domain, group. */
    BIND("I-BIND"),
    /** SEMANTICS 11.9: a group losing its last device was unowned and on its default domain (else WARN). */
    EMPTY("I-EMPTY"),
    /** SEMANTICS 11.10: a PASID slot exists iff every PASID-capable member has that domain at that PASID. */
    PASID_SLOT("I-PASID-SLOT"),
    /** SEMANTICS 11.11: PASID slot 0 (group handle) always describes group.domain. */
    SLOT0("I-SLOT0"),
    /** SEMANTICS 11.12: nothing is ever installed at PASID 0 through the PASID path. */
    NO_PASID_0("I-NO-PASID-0"),
    /** SEMANTICS 11.13: every installed PASID is below the device's max PASIDs. */
    PASID_RANGE("I-PASID-RANGE"),
    /** SEMANTICS 11.14: an mm's PASID is allocated, owned by it alone, and stays until the process has exited. */
    MM_PASID("I-MM-PASID"),
    /** SEMANTICS 11.15: an SVA domain's users equal its bonds; it is on its mm's list iff it has users. */
    SVA_REF("I-SVA-REF"),
    /** SEMANTICS 11.20: a page request group is answered at most once, and a pending one not yet. */
    IOPF_ONCE("I-IOPF-ONCE"),
    /** SEMANTICS 11.16: attach_deferred only goes from set to clear. */
    DEFERRED("I-DEFERRED"),
    /** SEMANTICS 11.17: a driver's static domains are never freed (nor tracked as allocated). */
    STATIC("I-STATIC"),
    /** SEMANTICS 11.18: the blocking domain is made only by claim or reset and lives until the group empties. */
    BLOCKING_LIFE("I-BLOCKING-LIFE"),
    /** SEMANTICS 11.19: probing an already grouped device succeeds and changes nothing. */
    IDEMPOTENT_PROBE("I-IDEMPOTENT-PROBE"),
    /** SEMANTICS 11.21: members are attached in list order; rollback touches exactly those done before. */
    ORDER("I-ORDER"),
    /** SEMANTICS 11.22: a successful map translates its whole range; a failed one leaves the range as it was. */
    MAP("I-MAP"),
    /** ARCHITECTURE I3: all members of a group are on one domain for PASID-less DMA. */
    GROUP_COHERENCE("I3"),
    /** ARCHITECTURE I4: DMA-API users and an explicit owner never coexist; ownerCnt counts the users. */
    OWNERSHIP("I4"),
    /** ARCHITECTURE I8: a require_direct region is identity-mapped in its device's default domain. */
    DIRECT_MAPPINGS("I8"),
    /** ARCHITECTURE I9: a released device sits in its release state and no core structure names it. */
    RELEASE("I9"),
    /** ARCHITECTURE I10: with every domain freed the frame allocator is back at its baseline. */
    ACCOUNTING("I10"),
    /** Not an invariant of the model: the checker could not take a consistent state to check. */
    UNCHECKED("CHECK");

    private final String id;

    Invariant(String id) {
        this.id = id;
    }

    /** The name the design docs use ({@code I-UNIFORM}, {@code I9}). */
    public String id() {
        return id;
    }

    /** The invariant with this id, or null. */
    public static Invariant byId(String id) {
        for (Invariant i : values()) {
            if (i.id.equals(id)) {
                return i;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return id;
    }
}
