package org.jiommu.hw.vtd;

import static org.jiommu.hw.vtd.VtdRegisters.*;

/**
 * What one VT-d remapping unit (DRHD) implements: the values its CAP and ECAP registers
 * report, plus the model's own knobs (cache sizes, queue processing). Immutable; build one
 * with {@link #builder()} or the {@link #legacy(int)} / {@link #scalable(int)} shortcuts.
 *
 * <p>Address widths: {@code addressWidth} is MGAW (the widest input address); the supported
 * second-level widths (SAGAW) default to every adjusted width up to it (39 -> {39},
 * 48 -> {39, 48}, 57 -> {39, 48, 57}); HAW (the host address width, from the ACPI DMAR table on
 * a real machine) bounds every physical address the unit reads from a table entry.
 */
public final class VtdConfig {
    private final String name;
    private final boolean scalableMode;
    private final int addressWidth;
    private final int sagaw;
    private final int hostAddressWidth;
    private final int pasidBits;
    private final int numberOfDomainsField;
    private final boolean queuedInvalidation;
    private final boolean passThrough;
    private final boolean nested;
    private final boolean deviceTlb;
    private final boolean firstLevel;
    private final boolean secondLevel;
    private final boolean pageSelectiveInvalidation;
    private final int maxAddressMaskValue;
    private final boolean secondLevel2M;
    private final boolean secondLevel1G;
    private final boolean firstLevel1G;
    private final boolean firstLevel5Level;
    private final boolean snoopControl;
    private final boolean drainReads;
    private final boolean drainWrites;
    private final int faultRecordingRegisters;
    private final int iotlbEntries;
    private final int pasidCacheEntries;
    private final boolean deferredInvalidation;
    private final boolean requiredWriteBufferFlush;
    private final boolean pageRequests;
    private final int pageRequestQueueLimit;

    private VtdConfig(Builder b) {
        this.name = b.name;
        this.scalableMode = b.scalableMode;
        this.addressWidth = b.addressWidth;
        this.sagaw = b.sagaw >= 0 ? b.sagaw : defaultSagaw(b.addressWidth);
        this.hostAddressWidth = b.hostAddressWidth;
        this.pasidBits = b.pasidBits;
        this.numberOfDomainsField = b.numberOfDomainsField;
        this.queuedInvalidation = b.queuedInvalidation;
        this.passThrough = b.passThrough;
        this.nested = b.nested && b.scalableMode;
        this.deviceTlb = b.deviceTlb;
        // First-level tables are 4- or 5-level (48/57-bit): a unit narrower than 48 bits reports no
        // FLTS unless told to (the kernel would find no AGAW common to both stages on it).
        this.firstLevel = (b.firstLevel != null ? b.firstLevel : b.addressWidth >= 48) && b.scalableMode;
        this.pageRequests = b.pageRequests && b.scalableMode;
        this.pageRequestQueueLimit = b.pageRequestQueueLimit;
        this.secondLevel = b.secondLevel;
        this.pageSelectiveInvalidation = b.pageSelectiveInvalidation;
        this.maxAddressMaskValue = b.maxAddressMaskValue;
        this.secondLevel2M = b.secondLevel2M;
        this.secondLevel1G = b.secondLevel1G;
        this.firstLevel1G = b.firstLevel1G;
        this.firstLevel5Level = b.firstLevel5Level != null ? b.firstLevel5Level : b.addressWidth >= 57;
        this.snoopControl = b.snoopControl;
        this.drainReads = b.drainReads;
        this.drainWrites = b.drainWrites;
        this.faultRecordingRegisters = b.faultRecordingRegisters;
        this.iotlbEntries = b.iotlbEntries;
        this.pasidCacheEntries = b.pasidCacheEntries;
        this.deferredInvalidation = b.deferredInvalidation;
        this.requiredWriteBufferFlush = b.requiredWriteBufferFlush;
        validate();
    }

    /** SAGAW bit n = agaw n supported, for every agaw whose width (30 + 9n) fits in MGAW. */
    static int defaultSagaw(int addressWidth) {
        int s = 0;
        for (int agaw = 1; agaw <= 3; agaw++) {
            if (agawToWidth(agaw) <= addressWidth) {
                s |= 1 << agaw;
            }
        }
        return s;
    }

    /** HARDWARE.md 2.1: width(agaw) = min(30 + 9 agaw, 64). */
    public static int agawToWidth(int agaw) {
        return Math.min(30 + 9 * agaw, 64);
    }

    private void validate() {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a VT-d unit needs a name");
        }
        if (addressWidth < 39 || addressWidth > 64) {
            throw new IllegalArgumentException(name + ": address width (MGAW) " + addressWidth + " outside 39..64");
        }
        if ((sagaw & ~0b01110) != 0 || sagaw == 0) {
            throw new IllegalArgumentException(String.format(
                    "%s: SAGAW %#x must name some of agaw 1..3 (39/48/57-bit)", name, sagaw));
        }
        for (int agaw = 1; agaw <= 3; agaw++) {
            if ((sagaw & (1 << agaw)) != 0 && agawToWidth(agaw) > addressWidth) {
                throw new IllegalArgumentException(name + ": SAGAW names a " + agawToWidth(agaw)
                        + "-bit table wider than MGAW " + addressWidth);
            }
        }
        if (hostAddressWidth < 32 || hostAddressWidth > 52) {
            throw new IllegalArgumentException(name + ": host address width " + hostAddressWidth + " outside 32..52");
        }
        if (scalableMode && (pasidBits < 1 || pasidBits > 20)) {
            throw new IllegalArgumentException(name + ": PASID width " + pasidBits + " outside 1..20");
        }
        if (numberOfDomainsField < 0 || numberOfDomainsField > 6) {
            throw new IllegalArgumentException(name + ": CAP.ND " + numberOfDomainsField + " outside 0..6");
        }
        if (maxAddressMaskValue < 0 || maxAddressMaskValue > 63) {
            throw new IllegalArgumentException(name + ": MAMV " + maxAddressMaskValue + " outside 0..63");
        }
        if (faultRecordingRegisters < 1 || faultRecordingRegisters > 256) {
            throw new IllegalArgumentException(name + ": fault recording registers " + faultRecordingRegisters
                    + " outside 1..256");
        }
        if (iotlbEntries < 0 || pasidCacheEntries < 0) {
            throw new IllegalArgumentException(name + ": negative cache size");
        }
        if (scalableMode && !firstLevel && !secondLevel && !passThrough) {
            throw new IllegalArgumentException(name + ": scalable mode with no translation type");
        }
        if (!scalableMode && !secondLevel) {
            throw new IllegalArgumentException(name + ": legacy mode needs second-level translation");
        }
        if (firstLevel5Level && addressWidth < 57) {
            throw new IllegalArgumentException(name + ": 5-level first stage needs a 57-bit address width");
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A legacy-mode unit (no scalable mode, no PASID) with the given MGAW. */
    public static VtdConfig legacy(int addressWidth) {
        return builder().scalableMode(false).addressWidth(addressWidth).build();
    }

    /** A scalable-mode unit with the given MGAW, 20-bit PASIDs and every translation type. */
    public static VtdConfig scalable(int addressWidth) {
        return builder().scalableMode(true).addressWidth(addressWidth).build();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.name = name;
        b.scalableMode = scalableMode;
        b.addressWidth = addressWidth;
        b.sagaw = sagaw;
        b.hostAddressWidth = hostAddressWidth;
        b.pasidBits = pasidBits;
        b.numberOfDomainsField = numberOfDomainsField;
        b.queuedInvalidation = queuedInvalidation;
        b.passThrough = passThrough;
        b.nested = nested;
        b.deviceTlb = deviceTlb;
        b.firstLevel = firstLevel;
        b.pageRequests = pageRequests;
        b.pageRequestQueueLimit = pageRequestQueueLimit;
        b.secondLevel = secondLevel;
        b.pageSelectiveInvalidation = pageSelectiveInvalidation;
        b.maxAddressMaskValue = maxAddressMaskValue;
        b.secondLevel2M = secondLevel2M;
        b.secondLevel1G = secondLevel1G;
        b.firstLevel1G = firstLevel1G;
        b.firstLevel5Level = firstLevel5Level;
        b.snoopControl = snoopControl;
        b.drainReads = drainReads;
        b.drainWrites = drainWrites;
        b.faultRecordingRegisters = faultRecordingRegisters;
        b.iotlbEntries = iotlbEntries;
        b.pasidCacheEntries = pasidCacheEntries;
        b.deferredInvalidation = deferredInvalidation;
        b.requiredWriteBufferFlush = requiredWriteBufferFlush;
        return b;
    }

    // ---- derived register values ----

    /** VER_REG: 1.0 for a legacy unit, 3.0 for a scalable-mode one (the spec revision that added it). */
    public int version() {
        return scalableMode ? 0x30 : 0x10;
    }

    /** CAP_REG as this unit reports it. */
    public long capability() {
        long cap = numberOfDomainsField;
        cap |= (long) sagaw << CAP_SAGAW_SHIFT;
        cap |= (long) (addressWidth - 1) << CAP_MGAW_SHIFT;
        cap |= (long) (FRCD_REG_BASE / 16) << CAP_FRO_SHIFT;
        long sllps = (secondLevel2M ? 1 : 0) | (secondLevel1G ? 2 : 0);
        cap |= sllps << CAP_SLLPS_SHIFT;
        if (pageSelectiveInvalidation) {
            cap |= CAP_PSI;
        }
        if (requiredWriteBufferFlush) {
            cap |= CAP_RWBF;
        }
        cap |= (long) (faultRecordingRegisters - 1) << CAP_NFR_SHIFT;
        cap |= (long) maxAddressMaskValue << CAP_MAMV_SHIFT;
        if (drainWrites) {
            cap |= CAP_DWD;
        }
        if (drainReads) {
            cap |= CAP_DRD;
        }
        if (scalableMode && firstLevel && firstLevel1G) {
            cap |= CAP_FL1GP;
        }
        if (scalableMode && firstLevel && firstLevel5Level) {
            cap |= CAP_FL5LP;
        }
        return cap;
    }

    /** ECAP_REG as this unit reports it. */
    public long extendedCapability() {
        long ecap = ECAP_C;
        if (queuedInvalidation) {
            ecap |= ECAP_QI;
        }
        if (deviceTlb) {
            ecap |= ECAP_DT;
        }
        if (passThrough) {
            ecap |= ECAP_PT;
        }
        if (snoopControl) {
            ecap |= ECAP_SC;
        }
        ecap |= (long) (IOTLB_REG_BASE / 16) << ECAP_IRO_SHIFT;
        if (scalableMode) {
            if (nested) {
                ecap |= ECAP_NEST;
            }
            ecap |= (long) (pasidBits - 1) << ECAP_PSS_SHIFT;
            ecap |= ECAP_PASID | ECAP_SMTS | ECAP_SMPWCS | ECAP_RPS;
            if (secondLevel) {
                ecap |= ECAP_SLTS;
            }
            if (firstLevel) {
                ecap |= ECAP_FLTS;
            }
            if (pageRequests) {
                ecap |= ECAP_PRS | ECAP_PDS;
            }
        }
        return ecap;
    }

    /** Number of domain ids: 2^(4 + 2 ND) (HARDWARE.md 2.1); ND 6 gives 16-bit ids. */
    public int domainIdBits() {
        return 4 + 2 * numberOfDomainsField;
    }

    /** True if second-level tables of {@code levels} levels (AW = levels - 2) are supported. */
    public boolean supportsSecondLevelLevels(int levels) {
        int agaw = levels - 2;
        return agaw >= 0 && agaw < 5 && (sagaw & (1 << agaw)) != 0;
    }

    // ---- accessors ----
    public String name() { return name; }
    public boolean scalableMode() { return scalableMode; }
    public int addressWidth() { return addressWidth; }
    public int sagaw() { return sagaw; }
    public int hostAddressWidth() { return hostAddressWidth; }
    public int pasidBits() { return scalableMode ? pasidBits : 0; }
    public int numberOfDomainsField() { return numberOfDomainsField; }
    public boolean queuedInvalidation() { return queuedInvalidation; }
    public boolean passThrough() { return passThrough; }
    public boolean nested() { return nested; }
    public boolean deviceTlb() { return deviceTlb; }
    public boolean firstLevel() { return firstLevel; }
    /** ECAP.PRS (and ECAP.PDS, drain in wait descriptors): a page request queue; scalable units only. */
    public boolean pageRequests() { return pageRequests; }
    /**
     * Descriptors the unit writes into the page request queue before treating it as full, or 0
     * for the queue's own size (a test knob to reach overflow without filling thousands of slots).
     */
    public int pageRequestQueueLimit() { return pageRequestQueueLimit; }
    public boolean secondLevel() { return secondLevel; }
    public boolean pageSelectiveInvalidation() { return pageSelectiveInvalidation; }
    public int maxAddressMaskValue() { return maxAddressMaskValue; }
    public boolean secondLevel2M() { return secondLevel2M; }
    public boolean secondLevel1G() { return secondLevel1G; }
    public boolean firstLevel1G() { return firstLevel1G; }
    public boolean firstLevel5Level() { return firstLevel5Level; }
    public boolean snoopControl() { return snoopControl; }
    public boolean drainReads() { return drainReads; }
    public boolean drainWrites() { return drainWrites; }
    public int faultRecordingRegisters() { return faultRecordingRegisters; }
    public int iotlbEntries() { return iotlbEntries; }
    public int pasidCacheEntries() { return pasidCacheEntries; }
    /** Model knob: if true, a tail write only queues work and {@link VtdUnit#processInvalidationQueue()} runs it. */
    public boolean deferredInvalidation() { return deferredInvalidation; }
    /** CAP.RWBF: software must flush the unit's write buffer (GCMD.WBF) after changing tables. */
    public boolean requiredWriteBufferFlush() { return requiredWriteBufferFlush; }

    @Override
    public String toString() {
        return String.format("%s: %s mode, MGAW %d, SAGAW %#x, HAW %d, PASID %d bits, CAP %#018x ECAP %#018x",
                name, scalableMode ? "scalable" : "legacy", addressWidth, sagaw, hostAddressWidth, pasidBits(),
                capability(), extendedCapability());
    }

    /** Fluent builder; defaults: "dmar0", scalable, 48-bit, HAW 46, 20-bit PASIDs, 16-bit DIDs, everything on. */
    public static final class Builder {
        private String name = "dmar0";
        private boolean scalableMode = true;
        private int addressWidth = 48;
        private int sagaw = -1;
        private int hostAddressWidth = 46;
        private int pasidBits = 20;
        private int numberOfDomainsField = 6;
        private boolean queuedInvalidation = true;
        private boolean passThrough = true;
        private boolean nested = true;
        private boolean deviceTlb = true;
        private Boolean firstLevel;
        private boolean secondLevel = true;
        private boolean pageSelectiveInvalidation = true;
        private int maxAddressMaskValue = 18;
        private boolean secondLevel2M = true;
        private boolean secondLevel1G = true;
        private boolean firstLevel1G = true;
        private Boolean firstLevel5Level;
        private boolean snoopControl = true;
        private boolean drainReads = true;
        private boolean drainWrites = true;
        private int faultRecordingRegisters = 8;
        private int iotlbEntries = 1024;
        private int pasidCacheEntries = 1024;
        private boolean deferredInvalidation;
        private boolean requiredWriteBufferFlush;
        private boolean pageRequests = true;
        private int pageRequestQueueLimit;

        private Builder() {
        }

        public Builder name(String v) { name = v; return this; }
        public Builder scalableMode(boolean v) { scalableMode = v; return this; }
        /** MGAW; also resets SAGAW to its default for this width unless {@link #sagaw} follows. */
        public Builder addressWidth(int v) { addressWidth = v; sagaw = -1; return this; }
        public Builder sagaw(int v) { sagaw = v; return this; }
        public Builder hostAddressWidth(int v) { hostAddressWidth = v; return this; }
        public Builder pasidBits(int v) { pasidBits = v; return this; }
        /** CAP.ND: 2^(4 + 2 ND) domain ids. */
        public Builder numberOfDomainsField(int v) { numberOfDomainsField = v; return this; }
        public Builder queuedInvalidation(boolean v) { queuedInvalidation = v; return this; }
        public Builder passThrough(boolean v) { passThrough = v; return this; }
        public Builder nested(boolean v) { nested = v; return this; }
        public Builder deviceTlb(boolean v) { deviceTlb = v; return this; }
        public Builder firstLevel(boolean v) { firstLevel = v; return this; }
        public Builder pageRequests(boolean v) { pageRequests = v; return this; }
        public Builder pageRequestQueueLimit(int v) { pageRequestQueueLimit = v; return this; }
        public Builder secondLevel(boolean v) { secondLevel = v; return this; }
        public Builder pageSelectiveInvalidation(boolean v) { pageSelectiveInvalidation = v; return this; }
        public Builder maxAddressMaskValue(int v) { maxAddressMaskValue = v; return this; }
        public Builder secondLevel2M(boolean v) { secondLevel2M = v; return this; }
        public Builder secondLevel1G(boolean v) { secondLevel1G = v; return this; }
        public Builder firstLevel1G(boolean v) { firstLevel1G = v; return this; }
        public Builder firstLevel5Level(boolean v) { firstLevel5Level = v; return this; }
        public Builder snoopControl(boolean v) { snoopControl = v; return this; }
        public Builder drainReads(boolean v) { drainReads = v; return this; }
        public Builder drainWrites(boolean v) { drainWrites = v; return this; }
        public Builder faultRecordingRegisters(int v) { faultRecordingRegisters = v; return this; }
        public Builder iotlbEntries(int v) { iotlbEntries = v; return this; }
        public Builder pasidCacheEntries(int v) { pasidCacheEntries = v; return this; }
        public Builder deferredInvalidation(boolean v) { deferredInvalidation = v; return this; }
        /** CAP.RWBF (old chipsets); default off. */
        public Builder requiredWriteBufferFlush(boolean v) { requiredWriteBufferFlush = v; return this; }

        public VtdConfig build() {
            return new VtdConfig(this);
        }
    }
}
