package org.jiommu.driver.smmuv3;

import static org.jiommu.hw.smmuv3.SmmuRegs.*;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.Prot;
import org.jiommu.base.WarningSink;
import org.jiommu.bus.Device;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.spi.AuxOps;
import org.jiommu.core.spi.CoreServices;
import org.jiommu.core.spi.DevFeature;
import org.jiommu.core.spi.DevIommuView;
import org.jiommu.core.spi.DomainOps;
import org.jiommu.core.spi.DomainType;
import org.jiommu.core.spi.Geometry;
import org.jiommu.core.spi.GroupRef;
import org.jiommu.core.spi.IommuCap;
import org.jiommu.core.spi.IommuDevice;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.core.spi.IommuOps;
import org.jiommu.core.spi.ResvRegion;
import org.jiommu.core.spi.ResvType;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.TagAllocator;
import org.jiommu.hw.smmuv3.SmmuV3Unit;
import org.jiommu.mem.FrameAllocator;
import org.jiommu.pgtable.IoPageTables;
import org.jiommu.pgtable.IoPgtableCfg;
import org.jiommu.pgtable.IotlbGather;
import org.jiommu.pgtable.Mapped;
import org.jiommu.pgtable.PgtableFormat;
import org.jiommu.pgtable.arm.ArmLpaePageTable;

/**
 * The Arm SMMUv3 driver, function by function after the kernel's
 * {@code drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c}: it learns the SMMU from its ID registers
 * ({@code arm_smmu_device_hw_probe}), builds the stream table and the queues in memory and
 * enables it through CR0 / CR0ACK ({@code arm_smmu_device_reset}); each master gets its stream
 * ids from the fwspec ({@code arm_smmu_insert_master}); domains are programmed only by writing
 * STEs and CDs through the hitless entry writer and by queued commands ({@link Smmuv3Tables},
 * {@link Smmuv3Flush}). Paging domains are stage 1 (ASID from 1, io-pgtable ARM_64_LPAE_S1 with
 * a CD) unless the SMMU only has stage 2 (VMID from 1, ARM_64_LPAE_S2 in the STE).
 *
 * <p>Locking: the driver's monitor stands for the group mutex and {@code arm_smmu_asid_lock}
 * (every STE / CD / master change); a domain's devices list has its own lock; the command queue
 * its own. Map / unmap / flush take only the latter two.
 */
public final class Smmuv3Driver {
    public static final String NAME = "arm-smmu-v3";
    /** MSI_IOVA_BASE / MSI_IOVA_LENGTH: the software-managed MSI window. */
    public static final long MSI_IOVA_BASE = 0x800_0000L;
    public static final long MSI_IOVA_LENGTH = 0x10_0000L;

    final SmmuV3Unit unit;
    private final String name;
    private final CoreServices core;
    private final FrameAllocator frames;
    private final WarningSink warnings;
    private final DriverFaults faults;
    private final IommuOps ops;
    private final IommuDevice iommu;
    private final DomainOps pagingOps;
    private final IommuDomain identityDomain;
    private final IommuDomain blockedDomain;

    // From the ID registers (arm_smmu_device_hw_probe).
    final boolean twoLevelStrtab;
    final boolean twoLevelCdtab;
    final boolean ats;
    final boolean pri;
    final boolean stalls;
    final boolean transS1;
    final boolean transS2;
    final boolean coherent;
    final boolean rangeInv;
    final boolean attrTypesOvr;
    final int asidBits;
    final int vmidBits;
    final int sidBits;
    final int ssidBits;
    final int oas;
    final int ias;
    final long pgsizeBitmap;

    private final Smmuv3Cmdq cmdq;
    private final Smmuv3Tables tables;
    private final Smmuv3Flush flush;
    private final Smmuv3Attach attach;
    private final Smmuv3Sva sva;
    private final Smmuv3Iopf iopf;
    private final long evtqBase;
    private final int evtqShift;
    private final long priqBase;
    private final int priqShift;

    // ---- state, guarded by this ----
    private final TagAllocator asidMap;
    private final TagAllocator vmidMap;
    /** The stream tree: StreamID -> master (smmu->streams). */
    private final TreeMap<Integer, Smmuv3Master> streams = new TreeMap<>();
    private final Map<Device, Smmuv3Master> masters = new LinkedHashMap<>();
    /** IORT RMRs by device: direct-mapped firmware regions (iort_get_rmr_sids). */
    private final Map<Device, List<ResvRegion>> rmrs = new HashMap<>();
    /** Masters firmware marks {@code dma-can-stall}. */
    private final java.util.Set<Device> canStall = new java.util.HashSet<>();

    public Smmuv3Driver(String name, SmmuV3Unit unit, CoreServices core, FrameAllocator frames) {
        this(name, unit, core, frames, new DriverFaults());
    }

    /**
     * arm_smmu_device_probe: hardware probe, in-memory structures, reset. Throws
     * {@link IllegalArgumentException} for an SMMU the kernel refuses (no AArch64 tables, a
     * command queue of 64 entries or fewer) and {@link IommuException} ENOMEM without memory.
     */
    Smmuv3Driver(String name, SmmuV3Unit unit, CoreServices core, FrameAllocator frames, DriverFaults faults) {
        this.name = name;
        this.unit = unit;
        this.core = core;
        this.frames = frames;
        this.warnings = core.warnings();
        this.faults = faults;
        int idr0 = unit.readRegister32(IDR0);
        int idr1 = unit.readRegister32(IDR1);
        int idr3 = unit.readRegister32(IDR3);
        int idr5 = unit.readRegister32(IDR5);
        if ((idr0 >>> 21 & 3) == 1) {
            throw new IllegalArgumentException(name + ": unknown/unsupported TT endianness!");
        }
        if ((idr0 >>> 2 & 3) != 2 && (idr0 >>> 2 & 3) != 3) {
            throw new IllegalArgumentException(name + ": AArch64 table format not supported!");
        }
        this.transS1 = (idr0 & IDR0_S1P) != 0;
        this.transS2 = (idr0 & IDR0_S2P) != 0;
        if (!transS1 && !transS2) {
            throw new IllegalArgumentException(name + ": no translation support!");
        }
        this.coherent = (idr0 & IDR0_COHACC) != 0;
        this.ats = (idr0 & IDR0_ATS) != 0;
        this.pri = (idr0 & IDR0_PRI) != 0;
        int stallModel = idr0 >>> 24 & 3;
        this.stalls = stallModel == 0 || stallModel == 2;
        this.asidBits = (idr0 & IDR0_ASID16) != 0 ? 16 : 8;
        this.vmidBits = (idr0 & IDR0_VMID16) != 0 ? 16 : 8;
        this.attrTypesOvr = (idr1 & 1 << 27) != 0;
        int cmdqShift = Math.min(Smmuv3Queues.CMDQ_MAX_SZ_SHIFT, idr1 >>> IDR1_CMDQS_SHIFT & 0x1f);
        if (cmdqShift <= 6) {
            throw new IllegalArgumentException(name + ": command queue size <= 64 entries not supported");
        }
        this.ssidBits = idr1 >>> IDR1_SSIDSIZE_SHIFT & 0x1f;
        this.sidBits = idr1 & 0x3f;
        // Fewer SID bits than one level-2 table covers: a linear table instead.
        this.twoLevelStrtab = (idr0 >>> 27 & 3) == 1 && sidBits > Smmuv3Tables.STRTAB_SPLIT;
        this.twoLevelCdtab = (idr0 & IDR0_CD2L) != 0;
        this.rangeInv = (idr3 & IDR3_RIL) != 0;
        long pg = 0;
        if ((idr5 & IDR5_GRAN64K) != 0) {
            pg |= 1L << 16 | 1L << 29;
        }
        if ((idr5 & IDR5_GRAN16K) != 0) {
            pg |= 1L << 14 | 1L << 25;
        }
        if ((idr5 & IDR5_GRAN4K) != 0) {
            pg |= 1L << 12 | 1L << 21 | 1L << 30;
        }
        this.oas = switch (idr5 & 7) {
            case 0 -> 32;
            case 1 -> 36;
            case 2 -> 40;
            case 3 -> 42;
            case 4 -> 44;
            case 6 -> 52;
            default -> 48;
        };
        if (oas == 52) {
            pg |= 1L << 42;
        }
        this.pgsizeBitmap = pg;
        this.ias = oas;
        this.asidMap = new TagAllocator(name + " asid", 1, 1 << asidBits);
        this.vmidMap = new TagAllocator(name + " vmid", 1, 1 << vmidBits);

        // arm_smmu_init_structures: queues (smaller if memory is short), then the stream table.
        Smmuv3Queues.Queue cq = Smmuv3Queues.alloc(frames, cmdqShift, 16, name + " cmdq");
        this.cmdq = new Smmuv3Cmdq(unit, cq.base(), cq.log2Size(), warnings);
        Smmuv3Queues.Queue eq = Smmuv3Queues.alloc(frames, Math.min(Smmuv3Queues.EVTQ_MAX_SZ_SHIFT,
                idr1 >>> IDR1_EVTQS_SHIFT & 0x1f), 32, name + " evtq");
        this.evtqBase = eq.base();
        this.evtqShift = eq.log2Size();
        if (pri) {
            Smmuv3Queues.Queue pq = Smmuv3Queues.alloc(frames, Math.min(Smmuv3Queues.PRIQ_MAX_SZ_SHIFT,
                    idr1 >>> IDR1_PRIQS_SHIFT & 0x1f), 16, name + " priq");
            this.priqBase = pq.base();
            this.priqShift = pq.log2Size();
        } else {
            this.priqBase = 0;
            this.priqShift = 0;
        }
        this.tables = new Smmuv3Tables(unit.memory(), frames, cmdq, sidBits, twoLevelStrtab, twoLevelCdtab, false);
        this.flush = new Smmuv3Flush(cmdq, faults, rangeInv, ats);

        this.pagingOps = DomainOps.builder().attachDev(this::attachDev).setDevPasid(this::setDevPasid)
                .mapPages(this::mapPages).unmapPages(this::unmapPages).iotlbSync(this::iotlbSync)
                .flushIotlbAll(this::flushIotlbAll).iovaToPhys(this::iovaToPhys).free(this::domainFree).build();
        this.identityDomain = IommuDomain.staticDomain(name + ".identity", DomainType.IDENTITY,
                DomainOps.builder().attachDev(this::attachDev).build());
        this.blockedDomain = IommuDomain.staticDomain(name + ".blocked", DomainType.BLOCKED,
                DomainOps.builder().attachDev(this::attachDev).setDevPasid(this::setDevPasid).build());
        this.iopf = new Smmuv3Iopf(this, core, faults, evtqBase, evtqShift, priqBase, priqShift);
        this.attach = new Smmuv3Attach(this, tables, flush, faults, identityDomain, blockedDomain, iopf);
        this.sva = new Smmuv3Sva(this);
        this.ops = IommuOps.builder(NAME).capable(this::capable).domainAllocPaging(this::domainAllocPaging)
                .probeDevice(this::probeDevice).releaseDevice(this::releaseDevice).deviceGroup(this::deviceGroup)
                .getResvRegions(this::getResvRegions).identityDomain(identityDomain).blockedDomain(blockedDomain)
                .releaseDomain(blockedDomain).devHasFeat(this::devHasFeat).devFeatEnabled(this::devFeatEnabled)
                .devEnableFeat(this::devEnableFeat).devDisableFeat(this::devDisableFeat)
                .domainAllocSva(sva::alloc).pageResponse(iopf::pageResponse)
                // The 2019 SMMUv3 aux series: aux domains are stage-1 CDs at the domain's SSID,
                // and an aux attach without AUX enabled is -EINVAL (S03).
                .auxOps(new AuxOps(Errno.EINVAL, true, null, null))
                .pgsizeBitmap(pgsizeBitmap).build();
        this.iommu = new IommuDevice(name, ops, 1 << ssidBits);
        Smmuv3Queues.reset(this, cmdq, tables, evtqBase, evtqShift, priqBase, priqShift);
    }

    static IommuException err(Errno e, String msg) {
        return new IommuException(e, msg);
    }

    public IommuOps ops() {
        return ops;
    }

    public IommuDevice iommu() {
        return iommu;
    }

    public SmmuV3Unit unit() {
        return unit;
    }

    public String name() {
        return name;
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

    Smmuv3Cmdq cmdq() {
        return cmdq;
    }

    Smmuv3Tables tables() {
        return tables;
    }

    Smmuv3Flush flush() {
        return flush;
    }

    WarningSink warnings() {
        return warnings;
    }

    Smmuv3Attach attach() {
        return attach;
    }

    Smmuv3Sva sva() {
        return sva;
    }

    CoreServices core() {
        return core;
    }

    /** An ASID from the SMMU's allocator (arm_smmu_asid_xa, from 1); -1 when none is left. */
    synchronized int allocAsid() {
        return asidMap.alloc();
    }

    synchronized void freeAsid(int asid) {
        asidMap.free(asid);
    }

    /**
     * Declares an IORT RMR for {@code dev}: a range firmware keeps using (IOMMU_RESV_DIRECT, or
     * DIRECT_RELAXABLE when remapping is permitted). Call before the device is added.
     */
    public synchronized void addRmr(Device dev, long base, long length, boolean relaxable) {
        rmrs.computeIfAbsent(dev, k -> new ArrayList<>()).add(new ResvRegion(base, length, Prot.READ | Prot.WRITE,
                relaxable ? ResvType.DIRECT_RELAXABLE : ResvType.DIRECT));
    }

    /**
     * Declares the firmware property {@code dma-can-stall} for {@code dev} (a platform master whose
     * transactions may wait for software): with the SMMU's stall model its stage-1 faults stall
     * and are I/O page faults. Call before the device is added.
     */
    public synchronized void setDmaCanStall(Device dev) {
        canStall.add(dev);
    }

    /** arm_smmu_capable: coherency as the SMMU reports it; no-exec and deferred flush always. */
    private boolean capable(Device dev, IommuCap cap) {
        switch (cap) {
            case CACHE_COHERENCY:
                return coherent;
            case NOEXEC:
            case DEFERRED_FLUSH:
                return true;
            default:
                return false;
        }
    }

    /** arm_smmu_get_resv_regions: the software MSI window, then the firmware (RMR) regions. */
    private synchronized List<ResvRegion> getResvRegions(Device dev) {
        List<ResvRegion> out = new ArrayList<>();
        out.add(new ResvRegion(MSI_IOVA_BASE, MSI_IOVA_LENGTH, Prot.WRITE | Prot.NOEXEC | Prot.MMIO, ResvType.SW_MSI));
        out.addAll(rmrs.getOrDefault(dev, List.of()));
        return out;
    }

    // ---- masters ---------------------------------------------------------------------------

    /**
     * arm_smmu_probe_device: the master's stream ids go into the stream tree, each with its
     * level-2 stream table; a stream id already in the tree (a PCI alias another device owns) is
     * -EINVAL with the kernel's warning, one beyond the table -ERANGE, and nothing stays. Then the
     * SubstreamID width (PASID enabled on a PCI function: min(log2 max PASIDs, SSIDSIZE), at most
     * 10 bits without 2-level CD tables).
     */
    private synchronized IommuDevice probeDevice(Device dev) {
        DevIommuView view = core.devIommu(dev);
        List<Integer> ids = view == null ? List.of() : view.fwspecIds();
        if (ids.isEmpty()) {
            throw err(Errno.ENODEV, dev + " has no stream ids for " + name);
        }
        if (masters.containsKey(dev)) {
            throw err(Errno.EBUSY, dev + " is already probed");
        }
        PciDevice pdev = dev instanceof PciDevice p ? p : null;
        boolean atsOk = ats && pdev != null && pdev.hasAts();
        boolean pasidOk = pdev != null && pdev.pasidBits() > 0 && ssidBits > 0;
        Smmuv3Master m = new Smmuv3Master(dev, this, ids.stream().mapToInt(Integer::intValue).toArray(), atsOk,
                pasidOk, pri && pdev != null && pdev.hasPri());
        List<Integer> inserted = new ArrayList<>();
        for (int sid : m.streams) {
            int r = tables.initSid(sid);
            if (r == 0 && streams.containsKey(sid)) {
                warnings.warn("arm_smmu_insert_master", dev + ": stream " + Integer.toUnsignedString(sid)
                        + " already in tree");
                r = Errno.EINVAL.neg();
            }
            if (r != 0) {
                inserted.forEach(streams::remove);
                throw err(Errno.fromCode(-r), dev + ": stream id " + Integer.toUnsignedString(sid));
            }
            streams.put(sid, m);
            inserted.add(sid);
        }
        if (pasidOk) {
            int maxPasids = pdev.maxPasids();
            m.ssidBits = Math.min(31 - Integer.numberOfLeadingZeros(Math.max(1, maxPasids)), ssidBits);
        }
        if (pdev == null && dev.maxPasids() > 0) {
            // pasid-num-bits of the firmware node (fwspec->num_pasid_bits)
            m.ssidBits = Math.min(31 - Integer.numberOfLeadingZeros(dev.maxPasids()), ssidBits);
        }
        if (!twoLevelCdtab) {
            m.ssidBits = Math.min(m.ssidBits, Smmuv3Tables.CD_LINEAR_MAX_BITS);
        }
        // arm_smmu_probe_device: a master stalls when the SMMU can and firmware says it may.
        m.stallEnabled = stalls && canStall.contains(dev);
        iopf.addMaster(m);
        masters.put(dev, m);
        return iommu;
    }

    /**
     * arm_smmu_release_device: the STE back to what the stream table starts with (identity for a
     * require_direct master, so its RMR keeps working; blocked otherwise: the same domains the
     * core's release_domain step already attached, so normally nothing is written), the
     * master out of the stream tree, its CD table freed.
     */
    private synchronized void releaseDevice(Device dev) {
        Smmuv3Master m = masters.get(dev);
        if (m == null) {
            return;
        }
        DevIommuView view = core.devIommu(dev);
        boolean direct = view != null && view.requireDirect();
        attach.devSte(direct ? identityDomain : blockedDomain, m);
        for (int sid : m.streams) {
            streams.remove(sid, m);
        }
        tables.freeCdTables(m);
        iopf.removeMaster(m);
        masters.remove(dev);
    }

    /** arm_smmu_device_group: PCI functions by PCI rules, other masters one group each. */
    private GroupRef deviceGroup(Device dev) {
        return dev instanceof PciDevice ? core.pciDeviceGroup(dev) : core.genericDeviceGroup(dev);
    }

    synchronized Smmuv3Master master(Device dev) {
        return masters.get(dev);
    }

    // ---- features (AUX for the 2019 aux API; IOPF and SVA need stall / SVA support) ----------

    private boolean hardwareHas(Smmuv3Master m, DevFeature f) {
        // AUX (the 2019 series) with SubstreamIDs; IOPF for a stalling master with one stream
        // (arm_smmu_master_iopf_supported); SVA is not a feature to enable since v6.16.
        return f == DevFeature.AUX && m.ssidBits > 0 || f == DevFeature.IOPF && m.stallEnabled && m.streams.length == 1;
    }

    private synchronized boolean devHasFeat(Device dev, DevFeature f) {
        Smmuv3Master m = masters.get(dev);
        return m != null && hardwareHas(m, f);
    }

    private synchronized boolean devFeatEnabled(Device dev, DevFeature f) {
        Smmuv3Master m = masters.get(dev);
        return m != null && m.features().contains(f);
    }

    /** arm_smmu_dev_enable_feature: -ENODEV without a master, -EINVAL if it cannot, -EBUSY if on. */
    private synchronized int devEnableFeat(Device dev, DevFeature f) {
        Smmuv3Master m = masters.get(dev);
        if (m == null) {
            return Errno.ENODEV.neg();
        }
        if (!hardwareHas(m, f)) {
            return Errno.EINVAL.neg();
        }
        if (m.features().contains(f)) {
            return Errno.EBUSY.neg();
        }
        m.features().add(f);
        return 0;
    }

    /** arm_smmu_dev_disable_feature: -EINVAL when not enabled. */
    private synchronized int devDisableFeat(Device dev, DevFeature f) {
        Smmuv3Master m = masters.get(dev);
        if (m == null || !m.features().contains(f)) {
            return Errno.EINVAL.neg();
        }
        m.features().remove(f);
        return 0;
    }

    // ---- domains ---------------------------------------------------------------------------

    /**
     * arm_smmu_domain_alloc_paging with a device: the domain is finalised at once for the
     * device's SMMU (arm_smmu_domain_finalise): stage 1 unless only stage 2 exists; the table
     * (ias 48, oas = the SMMU's IAS for stage 1; IAS / OAS for stage 2) with this driver's flush
     * ops; an ASID (stage 1, from 1) or VMID (stage 2, from 1; 0 is for bypass STEs).
     */
    private IommuDomain domainAllocPaging(Device dev) {
        if (core.shouldFailAlloc("arm_smmu_domain")) {
            return null;
        }
        Smmuv3Domain.Stage stage = transS1 ? Smmuv3Domain.Stage.S1 : Smmuv3Domain.Stage.S2;
        int inBits = stage == Smmuv3Domain.Stage.S1 ? 48 : ias;
        int outBits = stage == Smmuv3Domain.Stage.S1 ? ias : oas;
        Smmuv3Domain d = new Smmuv3Domain(pagingOps, this, stage);
        ArmLpaePageTable t = (ArmLpaePageTable) IoPageTables.alloc(
                stage == Smmuv3Domain.Stage.S1 ? PgtableFormat.ARM_64_LPAE_S1 : PgtableFormat.ARM_64_LPAE_S2,
                IoPgtableCfg.builder(frames).pgsizeBitmap(pgsizeBitmap).ias(inBits).oas(outBits)
                        .coherentWalk(coherent).warnings(warnings).build(), flush.opsFor(d));
        synchronized (this) {
            int tag = stage == Smmuv3Domain.Stage.S1 ? asidMap.alloc() : vmidMap.alloc();
            if (tag < 0) {
                t.free();
                throw err(Errno.ENOSPC, "no free " + (stage == Smmuv3Domain.Stage.S1 ? "ASID" : "VMID"));
            }
            if (stage == Smmuv3Domain.Stage.S1) {
                d.asid = tag;
            } else {
                d.vmid = tag;
            }
        }
        d.table = t;
        d.setPgsizeBitmap(t.config().pgsizeBitmap());
        d.setGeometry(Geometry.ofBits(inBits));
        return d;
    }

    /**
     * arm_smmu_domain_free_paging: the table freed (io-pgtable flushes the whole ASID / VMID
     * first), then the ASID or VMID given back.
     */
    private void domainFree(IommuDomain domain) {
        Smmuv3Domain d = (Smmuv3Domain) domain;
        d.table.free();
        synchronized (this) {
            if (d.stage == Smmuv3Domain.Stage.S1) {
                asidMap.free(d.asid);
            } else {
                vmidMap.free(d.vmid);
            }
        }
    }

    /** The ASID of a stage-1 domain, the VMID of a stage-2 one (0 for other domains). */
    public int asid(IommuDomain domain) {
        return domain instanceof Smmuv3Domain d && d.stage == Smmuv3Domain.Stage.S1 ? d.asid : 0;
    }

    public int vmid(IommuDomain domain) {
        return domain instanceof Smmuv3Domain d && d.stage == Smmuv3Domain.Stage.S2 ? d.vmid : 0;
    }

    /** Whether {@code domain} is a stage-2 paging domain of this driver. */
    public boolean stage2(IommuDomain domain) {
        return domain instanceof Smmuv3Domain d && d.stage == Smmuv3Domain.Stage.S2;
    }

    // ---- attach ----------------------------------------------------------------------------

    private int attachDev(IommuDomain domain, Device dev, IommuDomain old) {
        Smmuv3Master m;
        synchronized (this) {
            m = masters.get(dev);
            if (m == null) {
                return Errno.ENOENT.neg();
            }
            if (domain == identityDomain || domain == blockedDomain) {
                attach.devSte(domain, m);
                return 0;
            }
            return attach.paging((Smmuv3Domain) domain, m);
        }
    }

    Smmuv3Entries.SteFeatures steFeatures() {
        return new Smmuv3Entries.SteFeatures(attrTypesOvr, stalls);
    }

    // ---- PASIDs (SubstreamIDs) -------------------------------------------------------------

    /**
     * set_dev_pasid: the blocked domain removes the PASID (arm_smmu_blocking_set_dev_pasid);
     * a stage-1 paging domain goes into the CD at the SubstreamID (arm_smmu_s1_set_dev_pasid,
     * arm_smmu_set_pasid); a stage-2 domain or another SMMU's is -EINVAL.
     */
    private int setDevPasid(IommuDomain domain, Device dev, int pasid, IommuDomain old) {
        synchronized (this) {
            Smmuv3Master m = masters.get(dev);
            if (m == null) {
                return Errno.ENODEV.neg();
            }
            if (domain == blockedDomain) {
                attach.removeDevPasid(m, pasid);
                return 0;
            }
            if (!(domain instanceof Smmuv3Domain d) || d.smmu != this || d.stage != Smmuv3Domain.Stage.S1) {
                return Errno.EINVAL.neg();
            }
            if (pasid <= 0 || pasid >= 1 << m.ssidBits) {
                return Errno.EINVAL.neg();
            }
            return attach.setPasid(m, d, pasid, Smmuv3Attach.s1Cd(d, m));
        }
    }

    // ---- map / unmap / flush ---------------------------------------------------------------

    private int mapPages(IommuDomain domain, long iova, long paddr, long pgsize, long pgcount, int prot,
                         Mapped mapped) {
        return ((Smmuv3Domain) domain).table.mapPages(iova, paddr, pgsize, pgcount, prot, mapped);
    }

    private long unmapPages(IommuDomain domain, long iova, long pgsize, long pgcount, IotlbGather gather) {
        return ((Smmuv3Domain) domain).table.unmapPages(iova, pgsize, pgcount, gather);
    }

    private long iovaToPhys(IommuDomain domain, long iova) {
        return ((Smmuv3Domain) domain).table.iovaToPhys(iova);
    }

    /** arm_smmu_iotlb_sync: a range TLBI of what the unmap gathered, CMD_SYNC, then the ATCs. */
    private void iotlbSync(IommuDomain domain, IotlbGather gather) {
        flush.iotlbSync((Smmuv3Domain) domain, gather);
    }

    /** arm_smmu_flush_iotlb_all: TLBI_NH_ASID (or S12_VMALL) + CMD_SYNC, then the ATCs. */
    private void flushIotlbAll(IommuDomain domain) {
        flush.invContext((Smmuv3Domain) domain);
    }

    // ---- views (tests, the kind plug-in) ---------------------------------------------------

    /** The STE of {@code sid} as the SMMU would read it from memory, null without a table for it. */
    public synchronized long[] ste(int sid) {
        return tables.readSte(sid);
    }

    /** The CD of {@code dev} at {@code ssid}, null without one. */
    public synchronized long[] cd(Device dev, int ssid) {
        Smmuv3Master m = masters.get(dev);
        return m == null ? null : tables.readCd(m, ssid);
    }

    /** The stream ids the driver holds for {@code dev} (empty if not probed). */
    public synchronized int[] streamIds(Device dev) {
        Smmuv3Master m = masters.get(dev);
        return m == null ? new int[0] : m.streams.clone();
    }

    /** The domain the driver programmed for {@code dev}'s requests without PASID (null before). */
    public synchronized IommuDomain ridDomain(Device dev) {
        Smmuv3Master m = masters.get(dev);
        return m == null ? null : m.ridDomain();
    }

    /** The domains the driver programmed per PASID for {@code dev}. */
    public synchronized Map<Integer, IommuDomain> pasidDomains(Device dev) {
        Smmuv3Master m = masters.get(dev);
        return m == null ? Map.of() : new TreeMap<>(m.pasids());
    }

    /** Whether the driver enabled ATS on {@code dev}. */
    public synchronized boolean atsEnabled(Device dev) {
        Smmuv3Master m = masters.get(dev);
        return m != null && m.atsEnabled();
    }

    /** The IOPF refcount of {@code dev}: attachments of fault-handling domains on a stalling master (S19). */
    public synchronized int iopfRefcount(Device dev) {
        Smmuv3Master m = masters.get(dev);
        return m == null ? 0 : m.iopfRefcount();
    }

    /** Probed masters, in probe order. */
    public synchronized List<Device> masters() {
        return new ArrayList<>(masters.keySet());
    }

    /** ASIDs in use. */
    public synchronized BitSet asidsInUse() {
        return asidMap.snapshot();
    }

    /** VMIDs in use. */
    public synchronized BitSet vmidsInUse() {
        return vmidMap.snapshot();
    }

    /** The command queue's new commands go to {@code tap} too (tests and traces); null stops it. */
    public void tapCommands(java.util.function.Consumer<long[]> tap) {
        cmdq.tap(tap);
    }

    /** The stream table's base and format as programmed (STRTAB_BASE, STRTAB_BASE_CFG). */
    public long strtabBaseCfg() {
        return tables.strtabBaseCfg;
    }

    /**
     * The event records no one handled: those the event thread logged (it consumes the queue when
     * a transaction stalls), then those still in the queue, consumed now (arm_smmu_evtq_thread).
     */
    public List<long[]> drainEvents() {
        return iopf.drainEvents();
    }

    /** The dev_info lines of PCIe page requests the driver answered DENY (arm_smmu_handle_ppr). */
    public List<String> unexpectedPageRequests() {
        return List.copyOf(iopf.unexpectedPri);
    }

    /** Whether {@code dev} is a stalling master (master->stall_enabled). */
    public synchronized boolean stallEnabled(Device dev) {
        Smmuv3Master m = masters.get(dev);
        return m != null && m.stallEnabled;
    }

    @Override
    public String toString() {
        return NAME + " " + name;
    }
}
