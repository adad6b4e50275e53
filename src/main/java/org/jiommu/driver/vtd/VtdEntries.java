package org.jiommu.driver.vtd;

import java.util.List;
import java.util.Map;
import org.jiommu.base.Errno;
import org.jiommu.base.IommuException;
import org.jiommu.base.WarningSink;
import org.jiommu.driver.common.CommandBatch;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.EntryWrites;
import org.jiommu.driver.common.HitlessEntryWriter;
import org.jiommu.mem.FrameAllocator;

/**
 * The VT-d driver's table programming ({@code drivers/iommu/intel/pasid.c} and the context-entry
 * half of iommu.c): legacy and scalable context entries, each device's PASID directory and
 * tables, and PASID-table entries (set up present-bit last, torn down P first with their
 * PASID-cache, IOTLB and device-TLB invalidations). Package-private: the driver's attach, PASID
 * and release paths call it under the unit's lock.
 */
final class VtdEntries {
    /** Writes PASID-table entries (the generic writer on VT-d's entry format). */
    private static final HitlessEntryWriter PASID_ENTRY_WRITER = new HitlessEntryWriter(VtdPasidEntryFormat.INSTANCE);

    private final VtdIommuDriver driver;
    private final FrameAllocator frames;
    private final WarningSink warnings;
    private final DriverFaults faults;
    VtdEntries(VtdIommuDriver driver, FrameAllocator frames, WarningSink warnings, DriverFaults faults) {
        this.driver = driver;
        this.frames = frames;
        this.warnings = warnings;
        this.faults = faults;
    }

    /**
     * Allocates what a new entry for {@code pasid} will need (context tables of every alias in
     * legacy mode, the PASID-table page in scalable mode) so that nothing can fail once the old
     * entry is gone. Holds the unit's lock.
     */
    int prepareEntries(DeviceInfo info, int pasid) {
        VtdIommu u = info.iommu;
        if (u.scalable) {
            return pasidEntryAddress(info, pasid, true) == 0 ? Errno.ENOMEM.neg() : 0;
        }
        for (int alias : info.aliases) {
            if (u.contextEntryAddress(alias, true) == 0) {
                return Errno.ENOMEM.neg();
            }
        }
        return 0;
    }

    /**
     * intel_pasid_get_entry: the address of the PASID-table entry of {@code pasid}, allocating
     * its table page (and making the directory entry present) when {@code alloc}; 0 if there is
     * none, the PASID is beyond the directory, or memory ran out. Holds the unit's lock.
     */
    long pasidEntryAddress(DeviceInfo info, int pasid, boolean alloc) {
        if (pasid < 0 || pasid >= info.maxPasid || info.pasidDir == 0) {
            return 0;
        }
        int di = VtdEncoder.pasidDirIndex(pasid);
        Long table = info.pasidTables.get(di);
        if (table == null) {
            if (!alloc) {
                return 0;
            }
            long t = info.iommu.allocTable();
            if (t < 0) {
                return 0;
            }
            // A directory entry going present is never cached while not present: no flush.
            info.iommu.mem.writeLongRelease(info.pasidDir + 8L * di, VtdEncoder.pasidDirEntry(t));
            info.pasidTables.put(di, t);
            table = t;
        }
        return table + 64L * VtdEncoder.pasidTableIndex(pasid);
    }

    /**
     * intel_pasid_setup_second_level / _pass_through / _first_level: the entry written through
     * the hitless entry writer on the {@link VtdPasidEntryFormat}. The slot is not present here
     * (the caller tore it down), so the writer fills words 1..7 and sets word 0 with P last: the
     * present-bit-last write. Its sync is free while the entry is not present (the unit caches no
     * not-present entry); once present, only caching-mode hardware needs the PASID-cache and
     * PASID-IOTLB invalidation (pasid_flush_caches). Holds the unit's lock.
     */
    void setupPasidEntry(DeviceInfo info, int pasid, long[] entry, int did) {
        VtdIommu u = info.iommu;
        long a = pasidEntryAddress(info, pasid, true);
        if ((u.mem.readLong(a) & 1) != 0) {
            // The caller tore the entry down; a present one here is stale state: clear it properly.
            warnings.warn("intel_pasid_setup", info.dev + " PASID " + pasid + " entry still present");
            tearDownPasidEntry(info, pasid);
        }
        PASID_ENTRY_WRITER.write(EntryWrites.inMemory(u.mem, a), entry, () -> {
            if (u.cachingMode && (u.mem.readLongAcquire(a) & 1) != 0) {
                u.queue.submit(List.of(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_PASID, did, pasid),
                        VtdEncoder.pasidIotlbInv(did, pasid, 0, -1, false)));
            }
        });
    }

    /**
     * intel_pasid_replace_second_level / _first_level / _pass_through (6.14+): the present entry is
     * overwritten with the new one as a whole (no not-present window: DMA keeps translating through
     * one domain or the other), then intel_pasid_flush_present with the DID the old entry carried:
     * PASID-selective PASID-cache, PASID-based IOTLB of the whole PASID, the device-TLB (without
     * PASID for RID_PASID), a wait; then the PRQ drain for a device with IOPF. Holds the unit's lock.
     *
     * @return the old entry's DID
     */
    int replacePasidEntry(DeviceInfo info, int pasid, long[] entry) {
        VtdIommu u = info.iommu;
        long a = pasidEntryAddress(info, pasid, false);
        long[] cur = u.readEntry(a, 8);
        int oldDid = (int) (cur[1] & 0xFFFF);
        // *pte = new_pte: a plain store of the 512-bit entry, word 0 first
        for (int i = 0; i < entry.length; i++) {
            u.mem.writeLongRelease(a + 8L * i, entry[i]);
        }
        CommandBatch<long[]> batch = new CommandBatch<>(u.queue::submit);
        batch.add(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_PASID, oldDid, pasid));
        batch.add(VtdEncoder.pasidIotlbInv(oldDid, pasid, 0, -1, false));
        if (info.atsEnabled()) {
            batch.add(pasid == 0
                    ? VtdEncoder.deviceTlbInv(info.sid, info.sid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL)
                    : VtdEncoder.pasidDeviceTlbInv(info.sid, info.sid, pasid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL));
        }
        batch.submit();
        if (info.iopfEnabled() && u.prq != null) {
            u.prq.drain(info.dev, info.sid, pasid, ridDomainId(info));
        }
        return oldDid;
    }

    /**
     * intel_pasid_tear_down_entry (as of the 2026 "clear the rest after the flush" fix): only P is
     * cleared, then a PASID-selective PASID-cache invalidation with the DID it carried, a PASID-based
     * IOTLB invalidation of the whole PASID for pass-through / first-level entries or a
     * domain-selective IOTLB invalidation for second-level ones, the device-TLB (without PASID for
     * RID_PASID) and the wait; only then is the rest of the entry cleared, so the unit never sees
     * a half-cleared present entry. Holds the unit's lock.
     */
    void tearDownPasidEntry(DeviceInfo info, int pasid) {
        VtdIommu u = info.iommu;
        long a = pasidEntryAddress(info, pasid, false);
        if (a == 0) {
            return;
        }
        long[] cur = u.readEntry(a, 8);
        if ((cur[0] & 1) == 0) {
            if (cur[0] != 0) {
                u.writeEntry(a, new long[8]); // a non-present entry with FPD set: just clear it
            }
            return;
        }
        int did = (int) (cur[1] & 0xFFFF);
        int pgtt = (int) (cur[0] >>> 6) & 7;
        u.mem.writeLongRelease(a, cur[0] & ~1L);
        CommandBatch<long[]> batch = new CommandBatch<>(u.queue::submit);
        batch.add(VtdEncoder.pasidCacheInv(VtdEncoder.PC_G_PASID, did, pasid));
        if (pgtt == VtdEncoder.PGTT_PASS_THROUGH || pgtt == VtdEncoder.PGTT_FIRST_LEVEL) {
            batch.add(VtdEncoder.pasidIotlbInv(did, pasid, 0, -1, false));
        } else {
            batch.add(u.iotlbDomain(did));
        }
        if (info.atsEnabled() && !(pasid != 0 && faults.take(DriverFaults.Skip.TEARDOWN_DEVICE_TLB))) {
            batch.add(pasid == 0
                    ? VtdEncoder.deviceTlbInv(info.sid, info.sid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL)
                    : VtdEncoder.pasidDeviceTlbInv(info.sid, info.sid, pasid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL));
        }
        batch.submit();
        u.writeEntry(a, new long[8]); // intel_pasid_clear_entry, after the flush
        // intel_pasid_tear_down_entry -> intel_iommu_drain_pasid_prq: no request for this PASID is
        // left in the queue, or reported, once the teardown returns.
        if (info.iopfEnabled() && u.prq != null) {
            u.prq.drain(info.dev, info.sid, pasid, ridDomainId(info));
        }
    }

    /** The DID of the device's RID domain on its unit (info->domain), -1 without a paging one. */
    private static int ridDomainId(DeviceInfo info) {
        return info.ridDomain() instanceof VtdDomain d ? d.domainId(info.iommu) : -1;
    }

    /**
     * intel_pasid_alloc_table: a directory of max_pasid / 64 entries, max_pasid = min(device,
     * unit) PASIDs (a device without PASID gets one page, as Linux), rounded to a power-of-two
     * number of pages.
     */
    void allocPasidTable(DeviceInfo info) {
        VtdIommu u = info.iommu;
        int devMax = info.pasidSupported ? Math.min(info.pdev.maxPasids(), u.maxPasids) : 0;
        long bytes = (long) devMax >>> 3; // 8-byte directory entries of 64 PASIDs each
        int order = bytes <= 4096 ? 0 : 64 - Long.numberOfLeadingZeros(bytes - 1) - 12;
        long dir = frames.alloc(order);
        if (dir < 0) {
            throw new IommuException(Errno.ENOMEM, VtdIommuDriver.NAME + ": no memory for the PASID directory of " + info.dev);
        }
        info.pasidDir = dir;
        info.pasidDirOrder = order;
        info.maxPasid = 1 << (order + 12 + 3);
        info.pdts = VtdEncoder.pdtsFor(info.maxPasid);
    }

    void freePasidTable(DeviceInfo info) {
        freeTables(info.pasidDir, info.pasidTables);
        info.pasidTables.clear();
        info.pasidDir = 0;
    }

    private void freeTables(long dir, Map<Integer, Long> tables) {
        for (long t : tables.values()) {
            frames.free(t);
        }
        frames.free(dir);
    }

    /**
     * intel_pasid_setup_sm_context: points the context entry of each of the device's own aliases
     * at its PASID directory (present bit last). Only the aliases pci_for_each_dma_alias reports
     * with the device itself as pdev (pci_pasid_table_setup's {@code dev == &pdev->dev}: its own
     * id and quirk aliases); a bridge's alias gets no entry, so a conventional function behind a
     * PCIe-to-PCI bridge, which reaches the unit with that alias, has its DMA fault unless a
     * device of the bridge's secondary bus at devfn 0 (whose own id the alias is) set it up.
     * A present entry is left as it is (device_pasid_table_setup: a quirk alias another device
     * set up keeps that device's directory). A not-present to present change needs no
     * invalidation unless the unit caches not-present entries (caching mode, domain 0). Holds the
     * unit's lock.
     *
     * @return false when a context table could not be allocated
     */
    boolean setupScalableContexts(DeviceInfo info) {
        VtdIommu u = info.iommu;
        for (int alias : info.ownAliases) {
            if (u.contextEntryAddress(alias, true) == 0) {
                return false;
            }
        }
        for (int alias : info.ownAliases) {
            long a = u.contextEntryAddress(alias, false);
            long[] cur = u.readEntry(a, 4);
            if ((cur[0] & 1) != 0) {
                continue;
            }
            u.writeEntry(a, scalableContext(info, true));
            if (u.cachingMode) {
                u.queue.submit(List.of(u.contextDevice(0, alias), u.iotlbDomain(0)));
            }
        }
        return true;
    }

    long[] scalableContext(DeviceInfo info, boolean present) {
        return VtdEncoder.scalableContextEntry(info.pasidDir, info.pdts, 0, info.atsSupported, info.pasidSupported,
                info.priSupported, present);
    }

    /** Legacy re-probe: a context left in pass-through by a release onto identity is the device's state. */
    void adoptLegacyContexts(DeviceInfo info) {
        VtdIommu u = info.iommu;
        long a = u.contextEntryAddress(info.sid, false);
        if (a != 0) {
            long lo = u.mem.readLong(a);
            if ((lo & 1) != 0 && ((lo >>> 2) & 3) == VtdEncoder.TT_PASS_THROUGH) {
                info.setRidDomain(driver.identityDomain());
            }
        }
    }

    /**
     * intel_pasid_teardown_sm_context: for each of the device's own aliases (as set-up, no
     * bridge's) whose context table exists, device_pasid_table_teardown zeroes the entry, present
     * or not and whatever directory it names (a quirk alias another probed device set up goes
     * too: the kernel counts no users), then intel_context_flush_no_pasid: a device-selective
     * context-cache invalidation naming the device's own requester id (info->bus / devfn, also for
     * a quirk alias) and, with ATS still enabled, a global device-TLB invalidation; a wait ends
     * the batch. Holds the unit's lock.
     */
    void teardownScalableContexts(DeviceInfo info) {
        VtdIommu u = info.iommu;
        for (int alias : info.ownAliases) {
            long a = u.contextEntryAddress(alias, false);
            if (a == 0) {
                continue;
            }
            long[] cur = u.readEntry(a, 4);
            int did = (int) (cur[1] >>> 8) & 0xFFFF; // context_domain_id: ignored by scalable-mode hardware
            u.mem.writeLongRelease(a, 0L); // context_clear_entry: the low word (P) first
            u.writeEntry(a, new long[cur.length]);
            CommandBatch<long[]> batch = new CommandBatch<>(u.queue::submit);
            batch.add(u.contextDevice(did, info.sid));
            if (info.atsEnabled()) {
                batch.add(VtdEncoder.deviceTlbInv(info.sid, info.sid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL));
            }
            batch.submit();
        }
    }

    /**
     * domain_context_clear_one / device_pasid_table_teardown: P cleared first (the entry need not be
     * present: the kernel clears and flushes whatever is there), then the
     * device-selective context-cache invalidation, the domain-selective IOTLB invalidation for the
     * DID the entry carried and a global device-TLB invalidation, then the whole entry zeroed.
     * Holds the unit's lock.
     */
    void clearContextEntry(DeviceInfo info, int alias, long address, long[] cur, int did) {
        VtdIommu u = info.iommu;
        u.mem.writeLongRelease(address, cur[0] & ~1L);
        CommandBatch<long[]> batch = new CommandBatch<>(u.queue::submit);
        batch.add(u.contextDevice(did, alias));
        if (!u.scalable) {
            batch.add(u.iotlbDomain(did));
        }
        if (info.atsEnabled()) {
            batch.add(VtdEncoder.deviceTlbInv(info.sid, info.sid, 0, 0, VtdEncoder.DEVTLB_FLUSH_ALL));
        }
        batch.submit();
        u.writeEntry(address, new long[cur.length]);
    }

    /**
     * domain_context_mapping_one / context_setup_pass_through: writes a legacy context entry
     * present-bit last; a present entry is left as it is (the kernel skips it: an alias a sibling
     * behind the same bridge programmed keeps that sibling's domain). Holds the unit's lock.
     */
    void programContext(DeviceInfo info, int alias, long[] entry, int did) {
        VtdIommu u = info.iommu;
        long a = u.contextEntryAddress(alias, true);
        long[] cur = u.readEntry(a, 2);
        if ((cur[0] & 1) != 0) {
            return;
        }
        u.writeEntry(a, entry);
        // context_present_cache_flush: only caching-mode hardware caches the not-present entry (in DID 0).
        if (u.cachingMode) {
            u.queue.submit(List.of(u.contextDevice(0, alias), u.iotlbDomain(did)));
        }
    }
}
