package org.jiommu.driver.smmuv2;

import static org.jiommu.hw.smmuv2.Smmuv2Regs.*;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AuxOps;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.DomainAttr;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.Geometry;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuCap;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.TagAllocator;
import org.jiommu.hw.smmuv2.Smmuv2Unit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.arm.ArmLpaeConfig;
import org.jiommu.pgtable.arm.ArmLpaePageTable;
import org.jiommu.pgtable.TlbOps;

/**
 * The ARM SMMUv2 driver, function by function after the kernel's {@code arm-smmu.c}: it learns
 * the unit from its ID registers ({@code arm_smmu_device_cfg_probe}), resets it
 * ({@code arm_smmu_device_reset}), gives each master stream-map entries at probe
 * ({@code arm_smmu_master_alloc_smes}), sets a paging domain's context bank up on its first
 * attach ({@code arm_smmu_init_domain_context} / {@code arm_smmu_write_context_bank}) and
 * points the master's S2CRs at it, or at bypass (identity domain) or fault (blocked domain).
 * Map and unmap go through {@code pgtable.arm} (io-pgtable-arm) with the stage-1 flush ops of
 * {@code arm_smmu_s1_tlb_ops}: TLBIVAL per unmapped leaf, TLBIVA per granule for a freed
 * walk, TLBIASID for everything, TLBSYNC to wait.
 *
 * <p>Paging domains are stage 1 with ASID = bank index (the kernel's choice when the SMMU has
 * stage 1). Aux domains (the 2019-2020 arm-smmu aux-domain series for the Adreno GPU, seed 002)
 * are only page tables in the bank of a master declared context-switch capable, which switches
 * its bank's TTBR0 itself ({@link Smmuv2Gpu}); with split tables a context-switching master's
 * own domains are TTBR1 tables and the aux domains fill TTBR0 (docs/driver-smmuv2.md). All state
 * is guarded by the driver's monitor; the core calls with its group mutex.
 */
public final class Smmuv2Driver {
    /** 4K, 2M, 1G: io-pgtable-arm's 4K granule sizes (the driver's pgsize_bitmap on a 4K kernel). */
    static final long PGSIZE_BITMAP = (1L << 12) | (1L << 21) | (1L << 30);
    private static final int SCTLR_S1 = SCTLR_ASIDPNE | SCTLR_CFIE | SCTLR_CFRE | SCTLR_AFE | SCTLR_TRE | SCTLR_M;
    /** TCR2.SEP = 7: sign-extend from the upstream bus (arm_smmu_lpae_tcr2). */
    private static final int TCR2_SEP = TCR2_SEP_UPSTREAM << TCR2_SEP_SHIFT;
    /** The TTBR0 half of TCR (T0SZ, EPD0, IRGN0, ORGN0, SH0, TG0). */
    private static final int TCR_T0_HALF = 0xffff;
    /** The input size of every stage-1 table here: the kernel's va_size on a 48-bit arm64 kernel. */
    static final int VA_SIZE = 48;

    private final Smmuv2Unit unit;
    private final CoreServices core;
    private final FrameAllocator frames;
    private final DriverFaults faults;
    private final IommuOps ops;
    private final IommuDevice iommu;
    private final DomainOps pagingOps;
    private final IommuDomain identityDomain;
    private final IommuDomain blockedDomain;

    // From the ID registers (arm_smmu_device_cfg_probe).
    private final int numSmrs;
    private final int numContextBanks;
    private final int streamIdMask;
    private final int ipaSize;
    private final boolean coherentWalk;
    /** Split tables for context-switching masters (the adreno-smmu TTBR1 quirk, S11). */
    private final boolean splitTables;

    // ---- state, guarded by this ----
    private final TagAllocator contextMap;
    /** Per SMR: the stream id, how many masters use it (smmu->smrs[i], s2crs[i].count), the group. */
    private final int[] smrId;
    private final int[] smeCount;
    private final Device[] smeOwner;
    private final Map<Device, int[]> masterSmes = new HashMap<>();
    /** What each master's S2CRs point at (the domain last installed). */
    private final Map<Device, IommuDomain> attached = new LinkedHashMap<>();
    /** struct arm_smmu_cb: what the driver last wrote to each bank, and who holds it. */
    private final Cb[] cbs;
    /** Masters firmware declares able to switch their own bank's TTBR0 (arm_smmu_supports_aux). */
    private final Set<Device> contextSwitch = new HashSet<>();
    /** Masters with AUX enabled. */
    private final Set<Device> auxEnabled = new HashSet<>();
    /** Firmware's reserved regions per master (IORT RMRs), what get_resv_regions reports. */
    private final Map<Device, List<ResvRegion>> firmwareRegions = new HashMap<>();
    /** Live aux tables (for the views only: arm-smmu.c keeps no list). */
    private final Set<Smmuv2Domain> auxDomains = new java.util.LinkedHashSet<>();

    /** A bank's shadow registers (arm_smmu_cb) and its users: the owning domain and its aux tables. */
    static final class Cb {
        int asid;
        int tcr;
        int tcr2;
        long ttbr0;
        long ttbr1;
        long mair;
        /** Domains holding the bank: its own domain plus each aux table set up in it (cb->refcount). */
        int users;
        /** Aux tables set up in the bank (cb->aux): with split tables the first enables TTBR0. */
        int auxTables;
        Smmuv2Domain owner;
    }

    public Smmuv2Driver(String name, Smmuv2Unit unit, CoreServices core, FrameAllocator frames) {
        this(name, unit, core, frames, new DriverFaults(), false);
    }

    /**
     * @param splitTables the unit's {@code split-tables}: a context-switching master's own
     *     domains are TTBR1 tables and its default domain is identity (the adreno-smmu
     *     implementation), its aux domains TTBR0 tables
     */
    public Smmuv2Driver(String name, Smmuv2Unit unit, CoreServices core, FrameAllocator frames, boolean splitTables) {
        this(name, unit, core, frames, new DriverFaults(), splitTables);
    }

    Smmuv2Driver(String name, Smmuv2Unit unit, CoreServices core, FrameAllocator frames, DriverFaults faults) {
        this(name, unit, core, frames, faults, false);
    }

    Smmuv2Driver(String name, Smmuv2Unit unit, CoreServices core, FrameAllocator frames, DriverFaults faults,
                 boolean splitTables) {
        this.unit = unit;
        this.splitTables = splitTables;
        this.core = core;
        this.frames = frames;
        this.faults = faults;
        int idr0 = unit.readl(IDR0);
        int idr1 = unit.readl(IDR1);
        int idr2 = unit.readl(IDR2);
        this.numSmrs = (idr0 & IDR0_SMS) != 0 ? idr0 & IDR0_NUMSMRG_MASK : 0;
        this.numContextBanks = idr1 & IDR1_NUMCB_MASK;
        this.streamIdMask = (1 << (idr0 >>> IDR0_NUMSIDB_SHIFT & 0xf)) - 1;
        // A stage-1 context outputs IPAs: its oas is the IPA size, IDR2.IAS (arm_smmu_device_cfg_probe).
        this.ipaSize = new int[] {32, 36, 40, 42, 44, 48, 48, 48}[idr2 & 7];
        this.coherentWalk = (idr0 & IDR0_CTTW) != 0;
        if (numSmrs == 0) {
            // Without stream matching the S2CRs are indexed by stream id; the kernel supports it,
            // the model's driver does not (every SMMUv2 it drives has SMRs).
            throw new IllegalArgumentException("SMMUv2 without stream matching is not supported by this driver");
        }
        this.contextMap = new TagAllocator(name + ".context_map", 0, numContextBanks);
        this.cbs = new Cb[numContextBanks];
        for (int i = 0; i < numContextBanks; i++) {
            cbs[i] = new Cb();
        }
        this.smrId = new int[numSmrs];
        this.smeCount = new int[numSmrs];
        this.smeOwner = new Device[numSmrs];
        this.pagingOps = DomainOps.builder().attachDev(this::attachDev).mapPages(this::mapPages)
                .unmapPages(this::unmapPages).iotlbSync(this::iotlbSync).flushIotlbAll(this::flushIotlbAll)
                .iovaToPhys(this::iovaToPhys).free(this::domainFree).build();
        this.identityDomain = IommuDomain.staticDomain(name + ".identity", DomainType.IDENTITY,
                DomainOps.builder().attachDev(this::attachDev).build());
        this.blockedDomain = IommuDomain.staticDomain(name + ".blocked", DomainType.BLOCKED,
                DomainOps.builder().attachDev(this::attachDev).build());
        this.ops = IommuOps.builder(name).capable(Smmuv2Driver::capable).probeDevice(this::probeDevice).releaseDevice(this::releaseDevice)
                .deviceGroup(this::deviceGroup).domainAllocPaging(this::domainAllocPaging)
                .identityDomain(identityDomain).blockedDomain(blockedDomain).releaseDomain(blockedDomain)
                .pgsizeBitmap(PGSIZE_BITMAP).defDomainType(this::defDomainType)
                .devHasFeat(this::devHasFeat).devFeatEnabled(this::devFeatEnabled)
                .devEnableFeat(this::devEnableFeat).devDisableFeat(this::devDisableFeat)
                .auxOps(new AuxOps(Errno.EINVAL, false, this::auxAttach, this::auxDetach))
                .domainGetAttr(this::domainGetAttr).getResvRegions(this::getResvRegions).build();
        this.iommu = new IommuDevice(name, ops, 0);
        deviceReset();
    }

    public IommuOps ops() {
        return ops;
    }

    public IommuDevice iommu() {
        return iommu;
    }

    public Smmuv2Unit unit() {
        return unit;
    }

    public DriverFaults faults() {
        return faults;
    }

    public IommuDomain identityDomain() {
        return identityDomain;
    }

    public IommuDomain blockedDomain() {
        return blockedDomain;
    }

    /**
     * arm_smmu_capable: coherent walks (the model's units all have IDR0.CTTW), no-exec
     * mappings, deferred flush (a flush queue may batch invalidations).
     */
    private static boolean capable(Device dev, IommuCap cap) {
        return cap == IommuCap.CACHE_COHERENCY || cap == IommuCap.NOEXEC || cap == IommuCap.DEFERRED_FLUSH;
    }

    // ---- reset -----------------------------------------------------------------------------

    /**
     * arm_smmu_device_reset: clear the global fault status, every stream-map entry to invalid
     * with its S2CR faulting (disable_bypass), every bank disabled with its FSR clear, the TLBs
     * invalidated; then sCR0 with fault reporting on, the client port enabled and unmatched
     * streams faulting.
     */
    private synchronized void deviceReset() {
        unit.writel(SGFSR, unit.readl(SGFSR));
        for (int i = 0; i < numSmrs; i++) {
            unit.writel(S2CR_BASE + 4 * i, s2cr(S2CR_TYPE_FAULT, 0));
            unit.writel(SMR_BASE + 4 * i, 0);
        }
        for (int i = 0; i < numContextBanks; i++) {
            unit.writel(unit.cbOffset(i) + CB_SCTLR, 0);
            unit.writel(unit.cbOffset(i) + CB_FSR, FSR_FAULTS | FSR_MULTI | FSR_SS);
        }
        unit.writel(TLBIALLH, 0);
        unit.writel(TLBIALLNSNH, 0);
        int scr0 = unit.readl(SCR0);
        scr0 |= SCR0_GFRE | SCR0_GFIE | SCR0_GCFGFRE | SCR0_GCFGFIE | SCR0_VMIDPNE | SCR0_PTM;
        scr0 &= ~SCR0_CLIENTPD;
        scr0 |= SCR0_USFCFG;
        syncGlobal();
        unit.writel(SCR0, scr0);
    }

    // ---- probe, groups ---------------------------------------------------------------------

    /**
     * arm_smmu_probe_device + arm_smmu_master_alloc_smes: one stream-map entry per firmware
     * stream id. An SMR already holding exactly the id is shared (its count goes up); none free
     * is -ENOSPC, an id wider than the SMMU's stream ids -ERANGE. New entries start faulting
     * (the S2CR's reset type) until a domain is attached. Nothing is kept on failure.
     */
    private synchronized IommuDevice probeDevice(Device dev) {
        DevIommuView view = core.devIommu(dev);
        List<Integer> ids = view == null ? List.of() : view.fwspecIds();
        if (ids.isEmpty()) {
            throw new IommuException(Errno.ENODEV, dev + " has no stream ids for " + iommu.name());
        }
        for (int id : ids) {
            if ((id & ~streamIdMask) != 0) {
                throw new IommuException(Errno.ERANGE, String.format("stream id %#x out of range", id));
            }
        }
        // Decide every entry on copies first, so a failure leaves nothing behind.
        int[] count = smeCount.clone();
        int[] id = smrId.clone();
        int[] smes = new int[ids.size()];
        List<Integer> created = new ArrayList<>();
        for (int k = 0; k < ids.size(); k++) {
            int idx = findSme(ids.get(k), count, id);
            if (idx < 0) {
                throw new IommuException(Errno.ENOSPC, "no free stream map entry for " + dev);
            }
            if (count[idx] == 0) {
                created.add(idx);
                id[idx] = ids.get(k);
            }
            count[idx]++;
            smes[k] = idx;
        }
        System.arraycopy(count, 0, smeCount, 0, numSmrs);
        System.arraycopy(id, 0, smrId, 0, numSmrs);
        for (int c : created) {
            smeOwner[c] = dev;
            writeSme(c, s2cr(S2CR_TYPE_FAULT, 0));
        }
        masterSmes.put(dev, smes);
        return iommu;
    }

    /** arm_smmu_find_sme with mask 0: an entry holding the id, else the first free one, else -1. */
    private int findSme(int id, int[] count, int[] ids) {
        int free = -1;
        for (int i = 0; i < numSmrs; i++) {
            if (count[i] == 0) {
                if (free < 0) {
                    free = i;
                }
            } else if (ids[i] == id) {
                return i;
            }
        }
        return free;
    }

    private void writeSme(int idx, int s2cr) {
        unit.writel(S2CR_BASE + 4 * idx, s2cr);
        unit.writel(SMR_BASE + 4 * idx, smr(smrId[idx], 0, true));
    }

    /** arm_smmu_master_free_smes: entries whose last user goes are invalidated and their S2CR reset. */
    private synchronized void releaseDevice(Device dev) {
        int[] smes = masterSmes.remove(dev);
        attached.remove(dev);
        auxEnabled.remove(dev);
        if (smes == null) {
            return;
        }
        for (int idx : smes) {
            if (--smeCount[idx] == 0) {
                unit.writel(SMR_BASE + 4 * idx, 0);
                unit.writel(S2CR_BASE + 4 * idx, s2cr(S2CR_TYPE_FAULT, 0));
                smeOwner[idx] = null;
            }
        }
    }

    /** arm_smmu_device_group: masters sharing a stream-map entry share a group; else pci_ or generic_device_group. */
    private synchronized GroupRef deviceGroup(Device dev) {
        int[] smes = masterSmes.get(dev);
        if (smes != null) {
            for (int idx : smes) {
                Device owner = smeOwner[idx];
                if (owner != null && owner != dev) {
                    GroupRef g = core.groupGet(owner);
                    if (g != null) {
                        return g;
                    }
                }
            }
        }
        // PCI functions are grouped by PCI rules (ACS, aliases), other masters one per group
        return dev instanceof PciDevice ? core.pciDeviceGroup(dev) : core.genericDeviceGroup(dev);
    }

    // ---- domains ---------------------------------------------------------------------------

    /**
     * arm_smmu_domain_alloc_paging. With split tables, a context-switching master's domain will
     * be a TTBR1 table (qcom_adreno_smmu_init_context sets IO_PGTABLE_QUIRK_ARM_TTBR1 for the
     * GPU): its aperture is the sign-extended top of the address space, as
     * arm_smmu_init_domain_context gives it.
     */
    private IommuDomain domainAllocPaging(Device dev) {
        if (core.shouldFailAlloc("arm_smmu_domain")) {
            return null;
        }
        Smmuv2Domain d = new Smmuv2Domain(pagingOps);
        d.setPgsizeBitmap(PGSIZE_BITMAP);
        synchronized (this) {
            d.ttbr1 = splitTables && dev != null && contextSwitch.contains(dev);
        }
        d.setGeometry(d.ttbr1 ? new Geometry(-1L << VA_SIZE, -1L, true) : Geometry.ofBits(VA_SIZE));
        return d;
    }

    /**
     * qcom_smmu_def_domain_type with split tables: the context-switching master (the Adreno GPU)
     * starts on the identity domain; its driver attaches its own TTBR1 domain.
     */
    private synchronized DomainType defDomainType(Device dev) {
        return splitTables && contextSwitch.contains(dev) ? DomainType.IDENTITY : null;
    }

    /**
     * arm_smmu_attach_dev / arm_smmu_attach_dev_type: a paging domain gets its context on the
     * first attach, then the master's S2CRs translate through it; identity makes them bypass,
     * blocked fault. Errors (-ENOSPC: no free bank; -ENOMEM: no page table) change nothing.
     */
    private synchronized int attachDev(IommuDomain domain, Device dev, IommuDomain old) {
        int[] smes = masterSmes.get(dev);
        if (smes == null) {
            return Errno.ENODEV.neg();
        }
        int s2cr;
        if (domain == identityDomain) {
            s2cr = s2cr(S2CR_TYPE_BYPASS, 0);
        } else if (domain == blockedDomain) {
            s2cr = s2cr(S2CR_TYPE_FAULT, 0);
        } else {
            Smmuv2Domain d = (Smmuv2Domain) domain;
            if (d.aux) {
                // S04 (seed 002's review): an aux table shares its master's bank; as a normal
                // domain it would point other streams at that bank under the GPU's ASID
                return Errno.EINVAL.neg();
            }
            if (!d.hasContext()) {
                int rc = initDomainContext(d);
                if (rc != 0) {
                    return rc;
                }
            }
            s2cr = s2cr(S2CR_TYPE_TRANS, d.cbndx);
        }
        for (int idx : smes) {
            unit.writel(S2CR_BASE + 4 * idx, s2cr);
        }
        attached.put(dev, domain);
        return 0;
    }

    /**
     * arm_smmu_init_domain_context for a stage-1 domain: a free bank (-ENOSPC), ASID = bank
     * index, an ARM_64_LPAE_S1 table with ias 48 and the SMMU's oas and this driver's flush ops,
     * then the bank's registers (arm_smmu_write_context_bank).
     */
    private int initDomainContext(Smmuv2Domain d) {
        int cb = contextMap.alloc();
        if (cb < 0) {
            return Errno.ENOSPC.neg();
        }
        ArmLpaePageTable pt;
        try {
            pt = allocTable(d, d.ttbr1);
        } catch (IommuException e) {
            contextMap.free(cb);
            return e.errno().neg();
        }
        d.cbndx = cb;
        d.asid = cb;
        d.table = pt;
        initContextBank(d);
        writeContextBank(cb);
        return 0;
    }

    /** An ARM_64_LPAE_S1 table for {@code d} (ias va_size, oas the IPA size, this driver's flush ops). */
    private ArmLpaePageTable allocTable(Smmuv2Domain d, boolean ttbr1) {
        return ArmLpaePageTable.alloc(ArmLpaeConfig.builder(PgtableFormat.ARM_64_LPAE_S1)
                .pgsizeBitmap(PGSIZE_BITMAP).ias(VA_SIZE).oas(ipaSize).coherentWalk(coherentWalk)
                .quirks(ttbr1 ? ArmLpaeConfig.QUIRK_ARM_TTBR1 : 0).build(), frames, new FlushOps(d), core.warnings());
    }

    /**
     * arm_smmu_init_context_bank: the bank's shadow for a new domain. A TTBR1 table goes to
     * TTBR1 with TTBR0 holding only the ASID (and EPD0 set in TCR); otherwise TTBR0 holds the
     * table and TTBR1 only the ASID (EPD1 set).
     */
    private void initContextBank(Smmuv2Domain d) {
        Cb c = cbs[d.cbndx];
        long asid = (long) d.asid << TTBR_ASID_SHIFT;
        long table = d.table.config().ttbr() | asid;
        c.asid = d.asid;
        c.tcr = tcr(d.table.config());
        c.tcr2 = d.table.config().tcr().ips() | TCR2_AS | TCR2_SEP;
        c.mair = d.table.config().mair();
        c.ttbr0 = d.ttbr1 ? asid : table;
        c.ttbr1 = d.ttbr1 ? table : asid;
        c.owner = d;
        c.users = 1;
        c.auxTables = 0;
    }

    /** arm_smmu_write_context_bank for an AArch64 stage-1 context (CBAR type S1 + S2 bypass), from the shadow. */
    private void writeContextBank(int n) {
        Cb c = cbs[n];
        long gr1 = unit.gr1Offset();
        long cb = unit.cbOffset(n);
        unit.writel(gr1 + CBA2R_BASE + 4 * n, CBA2R_VA64);
        // S1: BPSHCFG = NSH (3), MEMATTR = WB (0xf), TYPE = S1 translate + S2 bypass.
        unit.writel(gr1 + CBAR_BASE + 4 * n, CBAR_TYPE_S1_TRANS_S2_BYPASS << CBAR_TYPE_SHIFT | 3 << 8 | 0xf << 12);
        unit.writel(cb + CB_TCR2, c.tcr2);
        unit.writeq(cb + CB_TTBR0, c.ttbr0);
        unit.writeq(cb + CB_TTBR1, c.ttbr1);
        unit.writel(cb + CB_TCR, c.tcr);
        unit.writel(cb + CB_MAIR0, (int) c.mair);
        unit.writel(cb + CB_MAIR1, (int) (c.mair >>> 32));
        unit.writel(cb + CB_SCTLR, SCTLR_S1);
    }

    /** arm_smmu_lpae_tcr: the TTBR0 half of TCR from the io-pgtable's fields, with EPD1. */
    static int tcr(ArmLpaeConfig.Tcr t) {
        return t.tg() << TCR_TG0_SHIFT | t.sh() << 12 | t.orgn() << 10 | t.irgn() << 8 | t.tsz();
    }

    /**
     * arm_smmu_lpae_tcr for a whole config: a plain table fills the TTBR0 half and disables
     * TTBR1 walks (EPD1); a TTBR1 table's fields go to the upper half (the halves are laid out
     * alike, A1 stays clear so TTBR0 keeps the ASID) and TTBR0 walks are disabled (EPD0).
     */
    static int tcr(ArmLpaeConfig cfg) {
        int half = tcr(cfg.tcr());
        if (cfg.hasQuirk(ArmLpaeConfig.QUIRK_ARM_TTBR1)) {
            return (half << 16 & ~TCR_A1) | TCR_EPD0;
        }
        return half | TCR_EPD1;
    }

    /**
     * arm_smmu_domain_free / arm_smmu_destroy_domain_context: the bank disabled, the table freed
     * (io-pgtable flushes the ASID first), the bank index returned.
     */
    private synchronized void domainFree(IommuDomain domain) {
        Smmuv2Domain d = (Smmuv2Domain) domain;
        if (d.table == null) {
            return;
        }
        int n = d.cbndx;
        Cb c = cbs[n];
        if (d.aux && --c.auxTables == 0 && splitTables) {
            // arm_smmu_destroy_aux_domain_context: the last aux table of a split bank turns
            // TTBR0 walks off again (T0 half cleared, EPD0, TTBR0 = ASID only)
            c.tcr = c.tcr & ~TCR_T0_HALF | TCR_EPD0;
            c.ttbr0 = (long) c.asid << TTBR_ASID_SHIFT;
            writeContextBank(n);
        }
        if (--c.users == 0) {
            // the last user of the bank (its domain, or the last aux table hanging from it)
            unit.writel(unit.cbOffset(n) + CB_SCTLR, 0);
        }
        d.table.free();
        auxDomains.remove(d);
        if (c.users == 0) {
            contextMap.free(n);
            c.owner = null;
        }
        d.cbndx = -1;
        d.table = null;
    }

    // ---- map / unmap -----------------------------------------------------------------------

    private int mapPages(IommuDomain domain, long iova, long paddr, long pgsize, long pgcount, int prot,
                         Mapped mapped) {
        ArmLpaePageTable pt = table(domain);
        return pt == null ? Errno.ENODEV.neg() : pt.mapPages(iova, paddr, pgsize, pgcount, prot, mapped);
    }

    private long unmapPages(IommuDomain domain, long iova, long pgsize, long pgcount, IotlbGather gather) {
        ArmLpaePageTable pt = table(domain);
        return pt == null ? 0 : pt.unmapPages(iova, pgsize, pgcount, gather);
    }

    private long iovaToPhys(IommuDomain domain, long iova) {
        ArmLpaePageTable pt = table(domain);
        return pt == null ? 0 : pt.iovaToPhys(iova);
    }

    /** arm_smmu_iotlb_sync: the TLBIVALs the unmap queued are waited for. */
    private void iotlbSync(IommuDomain domain, IotlbGather gather) {
        Smmuv2Domain d = (Smmuv2Domain) domain;
        synchronized (this) {
            if (d.hasContext()) {
                syncContext(d.cbndx);
            }
        }
    }

    /** arm_smmu_flush_iotlb_all: TLBIASID + sync (arm_smmu_tlb_inv_context_s1). */
    private void flushIotlbAll(IommuDomain domain) {
        Smmuv2Domain d = (Smmuv2Domain) domain;
        synchronized (this) {
            if (d.hasContext()) {
                invalidateContext(d);
            }
        }
    }

    private synchronized ArmLpaePageTable table(IommuDomain domain) {
        return ((Smmuv2Domain) domain).table;
    }

    private void invalidateContext(Smmuv2Domain d) {
        if (!faults.take(DriverFaults.Skip.IOTLB)) {
            unit.writel(unit.cbOffset(d.cbndx) + CB_TLBIASID, d.asid);
        }
        syncContext(d.cbndx);
    }

    /** arm_smmu_tlb_sync_context: TLBSYNC, then poll TLBSTATUS until SACTIVE clears. */
    private void syncContext(int cbndx) {
        long cb = unit.cbOffset(cbndx);
        unit.writel(cb + CB_TLBSYNC, 0);
        while ((unit.readl(cb + CB_TLBSTATUS) & TLBSTATUS_SACTIVE) != 0) {
            Thread.onSpinWait();
        }
    }

    /** arm_smmu_tlb_sync_global. */
    private void syncGlobal() {
        unit.writel(STLBGSYNC, 0);
        while ((unit.readl(STLBGSTATUS) & TLBSTATUS_SACTIVE) != 0) {
            Thread.onSpinWait();
        }
    }

    /**
     * arm_smmu_s1_tlb_ops: the flush ops io-pgtable calls on this domain's table. By-VA values
     * are {@code iova >> 12 | asid << 48} (AArch64), one per granule.
     */
    private final class FlushOps implements TlbOps {
        private final Smmuv2Domain d;

        FlushOps(Smmuv2Domain d) {
            this.d = d;
        }

        @Override
        public void tlbFlushAll() {
            synchronized (Smmuv2Driver.this) {
                if (d.hasContext()) {
                    invalidateContext(d);
                }
            }
        }

        @Override
        public void tlbFlushWalk(long iova, long size, long granule) {
            synchronized (Smmuv2Driver.this) {
                invalidateRange(iova, size, granule, CB_TLBIVA);
                syncContext(d.cbndx);
            }
        }

        @Override
        public void tlbAddPage(IotlbGather gather, long iova, long granule) {
            synchronized (Smmuv2Driver.this) {
                invalidateRange(iova, granule, granule, CB_TLBIVAL);
            }
        }

        /** arm_smmu_tlb_inv_range_s1. */
        private void invalidateRange(long iova, long size, long granule, int reg) {
            if (faults.take(DriverFaults.Skip.IOTLB)) {
                return;
            }
            long cb = unit.cbOffset(d.cbndx);
            long value = (iova >>> 12) | (long) d.asid << TTBR_ASID_SHIFT;
            for (long done = 0; done < size; done += granule) {
                unit.writeq(cb + reg, value);
                value += granule >>> 12;
            }
        }
    }

    /** Firmware reports reserved regions of {@code dev} (IORT RMRs: direct or direct-relaxable). Before its probe. */
    public synchronized void setFirmwareRegions(Device dev, List<ResvRegion> regions) {
        firmwareRegions.put(dev, List.copyOf(regions));
    }

    /**
     * arm_smmu_get_resv_regions: the firmware's regions of the master (iommu_dma_get_resv_regions,
     * IORT RMRs). The software MSI window the kernel adds is not modelled (no MSIs here).
     */
    private synchronized List<ResvRegion> getResvRegions(Device dev) {
        return firmwareRegions.getOrDefault(dev, List.of());
    }

    // ---- features and aux domains (the 2019-2020 arm-smmu aux series, seed 002) ---------------

    /**
     * Firmware declares {@code dev} able to switch its own bank's TTBR0 (the Adreno GPU: the
     * series' client match table with {@code allow_aux_domain}). Before its probe.
     */
    public synchronized void declareContextSwitchCapable(Device dev) {
        contextSwitch.add(dev);
    }

    /** arm_smmu_supports_aux: a probed master declared context-switch capable (S02). */
    private boolean supportsAux(Device dev) {
        return masterSmes.containsKey(dev) && contextSwitch.contains(dev);
    }

    /** arm_smmu_dev_has_feat: AUX only, and only for a context-switching master (S02). */
    private synchronized boolean devHasFeat(Device dev, DevFeature f) {
        return f == DevFeature.AUX && supportsAux(dev);
    }

    private synchronized boolean devFeatEnabled(Device dev, DevFeature f) {
        return f == DevFeature.AUX && auxEnabled.contains(dev);
    }

    /** arm_smmu_dev_enable_feat: 0 for AUX on a master that supports it, else -ENODEV. */
    private synchronized int devEnableFeat(Device dev, DevFeature f) {
        if (f != DevFeature.AUX || !supportsAux(dev)) {
            return Errno.ENODEV.neg();
        }
        auxEnabled.add(dev);
        return 0;
    }

    /** dev_disable_feat: AUX off (the core refuses while aux domains are attached); -EINVAL if it was not on. */
    private synchronized int devDisableFeat(Device dev, DevFeature f) {
        return f == DevFeature.AUX && auxEnabled.remove(dev) ? 0 : Errno.EINVAL.neg();
    }

    /**
     * arm_smmu_aux_attach_dev + arm_smmu_aux_init_domain_context: the aux domain takes the
     * master's context bank and ASID (found through the master's S2CRs: none translating is
     * -ENODEV) and gets a page table of its own with the same characteristics; no bank is
     * allocated and, without split tables, no register is written: the master switches TTBR0
     * itself. With split tables the master's bank must have TTBR1 enabled (-EINVAL otherwise)
     * and the first aux table of the bank enables TTBR0 walks with its table
     * (arm_smmu_context_set_ttbr0). A domain with a bank of its own, or an aux table of another
     * bank, is refused with -EINVAL (S04). A second master on the same bank only links.
     */
    private synchronized int auxAttach(IommuDomain domain, Device dev) {
        if (!masterSmes.containsKey(dev)) {
            return Errno.ENODEV.neg();
        }
        if (!(domain instanceof Smmuv2Domain d) || !contextSwitch.contains(dev)) {
            return Errno.EINVAL.neg();
        }
        if (d.ownsBank()) {
            return Errno.EINVAL.neg(); // S04: already a normal domain with its own bank
        }
        if (!(attached.get(dev) instanceof Smmuv2Domain m) || !m.ownsBank()) {
            return Errno.ENODEV.neg(); // no context bank configured for this master
        }
        int n = m.cbndx;
        Cb c = cbs[n];
        if (splitTables && (c.tcr & TCR_EPD1) != 0) {
            return Errno.EINVAL.neg(); // TTBR1 is not enabled on the master's bank
        }
        if (d.aux) {
            if (d.cbndx != n) {
                return Errno.EINVAL.neg(); // its table is flushed through another bank's ASID
            }
            d.auxMasters.add(dev);
            return 0;
        }
        ArmLpaePageTable pt;
        try {
            d.cbndx = n; // the flush ops go through the master's bank with its ASID
            d.asid = c.asid;
            pt = allocTable(d, false);
        } catch (IommuException e) {
            d.cbndx = -1;
            return e.errno().neg();
        }
        d.table = pt;
        d.aux = true;
        d.ttbr1 = false;
        d.setGeometry(Geometry.ofBits(VA_SIZE));
        c.users++;
        auxDomains.add(d);
        if (++c.auxTables == 1 && splitTables) {
            int tcr = c.tcr | tcr(pt.config());
            c.tcr = tcr & ~(TCR_EPD0 | TCR_EPD1);
            c.ttbr0 = pt.config().ttbr() | (long) c.asid << TTBR_ASID_SHIFT;
            writeContextBank(n);
        }
        d.auxMasters.add(dev);
        return 0;
    }

    /**
     * The aux domain leaves {@code dev}. The series has no aux_detach_dev for SMMUv2: the table
     * (and with split tables the bank's TTBR0) stays until the domain is freed.
     */
    private synchronized void auxDetach(IommuDomain domain, Device dev) {
        if (domain instanceof Smmuv2Domain d) {
            d.auxMasters.remove(dev);
        }
    }

    /** arm_smmu_domain_get_attr(DOMAIN_ATTR_PTBASE): an aux domain's table base; -ENODEV otherwise (S10). */
    private synchronized long domainGetAttr(IommuDomain domain, DomainAttr attr) {
        if (attr != DomainAttr.PTBASE || !(domain instanceof Smmuv2Domain d) || !d.aux) {
            throw new IommuException(Errno.ENODEV, domain + " is not an aux domain of " + iommu.name());
        }
        return d.table.config().ttbr();
    }

    // ---- views -----------------------------------------------------------------------------
    /** The aux domains set up in bank {@code cbndx}, in the order they were set up. */
    public synchronized List<IommuDomain> auxDomainsIn(int cbndx) {
        List<IommuDomain> out = new ArrayList<>();
        for (Smmuv2Domain d : auxDomains) {
            if (d.cbndx == cbndx) {
                out.add(d);
            }
        }
        return out;
    }

    /** The root of a domain's table, -1 before it has one. */
    public synchronized long tableRoot(IommuDomain domain) {
        return domain instanceof Smmuv2Domain d && d.table != null ? d.table.root() : -1;
    }

    /** The root of the table bank {@code cbndx} was set up with (its own domain's), -1 if none. */
    public synchronized long bankTable(int cbndx) {
        Smmuv2Domain o = cbs[cbndx].owner;
        return o == null || o.table == null ? -1 : o.table.root();
    }

    /** The page-table roots set up as aux tables in bank {@code cbndx} (I7: what a master may switch TTBR0 to). */
    public synchronized Set<Long> auxTables(int cbndx) {
        Set<Long> out = new HashSet<>();
        for (IommuDomain d : auxDomainsIn(cbndx)) {
            out.add(tableRoot(d));
        }
        return out;
    }


    /** The domain each probed master's S2CRs point at (what the driver programmed). */
    public synchronized Map<Device, IommuDomain> attachedDomains() {
        return new LinkedHashMap<>(attached);
    }

    /** The domain {@code dev}'s S2CRs point at (null: not attached), without copying the others. */
    public synchronized IommuDomain attachedDomain(Device dev) {
        return attached.get(dev);
    }

    /** Whether {@code dev} is a probed master holding stream-map entries. */
    public synchronized boolean hasStreamMapEntries(Device dev) {
        int[] s = masterSmes.get(dev);
        return s != null && s.length > 0;
    }

    /** The context bank of a paging domain, -1 before its first attach. */
    public synchronized int contextBank(IommuDomain domain) {
        return domain instanceof Smmuv2Domain d ? d.cbndx : -1;
    }

    /** Stream-map entries of a probed master. */
    public synchronized int[] streamMapEntries(Device dev) {
        int[] s = masterSmes.get(dev);
        return s == null ? new int[0] : s.clone();
    }

    /** Banks in use. */
    public synchronized int contextBanksInUse() {
        return contextMap.snapshot().cardinality();
    }
}
