package org.jiommu.driver.smmuv3;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.base.Errno;
import org.jiommu.core.spi.IommuDomain;
import org.jiommu.driver.common.DriverFaults;
import org.jiommu.driver.common.IopfRefs;
import org.jiommu.hw.smmuv3.StreamTableEntry;
import org.jiommu.pgtable.arm.ArmLpaeConfig;

/**
 * How a domain gets into a master's STE and CDs ({@code arm_smmu_attach_prepare} /
 * {@code _commit}, {@code arm_smmu_install_ste_for_dev}, {@code arm_smmu_set_pasid},
 * {@code arm_smmu_blocking_set_dev_pasid}): the master joins the new domain's devices list before
 * any entry changes and leaves the old one's after, ATS follows, every entry goes through the
 * hitless writer of {@link Smmuv3Tables}. Paging, SVA, identity and blocked domains all come
 * here. Every method runs under the driver's lock (the group mutex and {@code arm_smmu_asid_lock}).
 */
final class Smmuv3Attach {
    private final Smmuv3Driver drv;
    private final Smmuv3Tables tables;
    private final Smmuv3Flush flush;
    private final DriverFaults faults;
    private final IommuDomain identityDomain;
    private final IommuDomain blockedDomain;
    private final Smmuv3Iopf iopf;

    Smmuv3Attach(Smmuv3Driver drv, Smmuv3Tables tables, Smmuv3Flush flush, DriverFaults faults,
                 IommuDomain identityDomain, IommuDomain blockedDomain, Smmuv3Iopf iopf) {
        this.iopf = iopf;
        this.drv = drv;
        this.tables = tables;
        this.flush = flush;
        this.faults = faults;
        this.identityDomain = identityDomain;
        this.blockedDomain = blockedDomain;
    }

    /** The state of one attach ({@code struct arm_smmu_attach_state}). */
    static final class AttachState {
        final Smmuv3Master master;
        final IommuDomain oldDomain;
        final int ssid;
        boolean cdNeedsAts;
        boolean atsEnabled;

        AttachState(Smmuv3Master master, IommuDomain oldDomain, int ssid) {
            this.master = master;
            this.oldDomain = oldDomain;
            this.ssid = ssid;
        }
    }

    /**
     * arm_smmu_attach_dev: a domain of another SMMU is -EINVAL; stage 1 needs CD 0 (-ENOMEM),
     * stage 2 is -EBUSY while SubstreamIDs are in use. Prepare (the master joins the domain's
     * list, ATS decided), CD 0 then the CD-table STE (S1DSS = SSID0), or the stage-2 STE then CD 0
     * cleared; commit (ATC, the old domain's list). Holds the driver's lock.
     */
    int paging(Smmuv3Domain d, Smmuv3Master m) {
        if (d.smmu != drv) {
            return Errno.EINVAL.neg();
        }
        long cdptr = 0;
        if (d.stage == Smmuv3Domain.Stage.S1) {
            cdptr = tables.allocCdPtr(m, 0);
            if (cdptr == 0) {
                return Errno.ENOMEM.neg();
            }
        } else if (m.usedSsids > 0) {
            return Errno.EBUSY.neg();
        }
        AttachState state = new AttachState(m, m.ridDomain(), 0);
        int r = prepare(state, d);
        if (r != 0) {
            return r;
        }
        if (d.stage == Smmuv3Domain.Stage.S1) {
            tables.writeCd(m, 0, cdptr, s1Cd(d, m));
            installSte(m, Smmuv3Entries.cdtableSte(drv.steFeatures(), cdTableRef(m), state.atsEnabled,
                    StreamTableEntry.S1DSS_SSID0, m.stallEnabled));
        } else {
            ArmLpaeConfig cfg = d.table.config();
            installSte(m, Smmuv3Entries.s2DomainSte(drv.steFeatures(), d.vmid, cfg.vtcr(), cfg.ttbr(), state.atsEnabled));
            tables.clearCd(m, 0);
        }
        commit(state);
        m.setRidDomain(d);
        return 0;
    }

    /**
     * arm_smmu_attach_dev_ste (identity / blocked): the bypass or abort STE, or, while
     * SubstreamIDs are in use, a CD-table STE whose S1DSS gives the RID that behaviour (with ATS
     * on: the PASIDs may need it); CD 0 cleared after the master left the old domain's list.
     * Holds the driver's lock.
     */
    void devSte(IommuDomain domain, Smmuv3Master m) {
        boolean identity = domain == identityDomain;
        long[] ste = identity ? Smmuv3Entries.bypassSte(drv.steFeatures()) : Smmuv3Entries.abortSte();
        int s1dss = identity ? StreamTableEntry.S1DSS_BYPASS : StreamTableEntry.S1DSS_TERMINATE;
        AttachState state = new AttachState(m, m.ridDomain(), 0);
        if (m.usedSsids > 0) {
            state.cdNeedsAts = true;
            prepare(state, domain); // a static domain: no IOPF, cannot fail
            ste = Smmuv3Entries.cdtableSte(drv.steFeatures(), cdTableRef(m), state.atsEnabled, s1dss, m.stallEnabled);
        } else {
            prepare(state, domain);
        }
        installSte(m, ste);
        commit(state);
        m.setRidDomain(domain);
        tables.clearCd(m, 0);
        // S19, the model's check: on identity / blocked with no PASID the IOPF count must be 0.
        IopfRefs.checkIdle(m, drv.warnings(), Smmuv3Driver.NAME + " attach_dev");
    }

    /**
     * arm_smmu_attach_prepare: ATS only with a paging domain (or a CD table that needs it); the
     * master joins the new domain's list before any STE / CD changes, so invalidations reach it
     * from both domains until commit; ATS off at the function before the STE stops EATS. A domain
     * with a fault handler first takes the master's IOPF reference (arm_smmu_enable_iopf: its
     * -errno fails the attach before anything changed). 0 or -errno.
     */
    int prepare(AttachState state, IommuDomain newDomain) {
        Smmuv3Master m = state.master;
        Smmuv3Domain d = newDomain instanceof Smmuv3Domain s ? s : null;
        boolean usingIopf = false;
        if (d != null && d.hasIopfHandler()) {
            int r = iopf.enable(m);
            if (r < 0) {
                return r;
            }
            usingIopf = r == 1;
        }
        if (d != null || state.cdNeedsAts) {
            state.atsEnabled = m.atsSupported;
        }
        if (d != null) {
            synchronized (d.devicesLock) {
                if (state.atsEnabled) {
                    d.nrAtsMasters++;
                }
                Smmuv3Domain.MasterDomain md = new Smmuv3Domain.MasterDomain(m, state.ssid);
                d.devices.add(md);
                if (usingIopf) {
                    d.iopfUsers.add(md);
                }
            }
        }
        if (!state.atsEnabled && m.atsEnabled()) {
            m.pdev.disableAts();
        }
        return 0;
    }

    /**
     * arm_smmu_attach_commit, after the STE / CD carry the new EATS: ATS enabled (the whole ATC
     * invalidated first), or the ATC flushed for the SubstreamID (the translation changed), or,
     * ATS going off, the whole ATC; then the master leaves the old domain's list.
     */
    void commit(AttachState state) {
        Smmuv3Master m = state.master;
        if (state.atsEnabled && !m.atsEnabled()) {
            flush.atcInvMaster(m, 0);
            m.enableAts(drv.warnings());
        } else if (state.atsEnabled) {
            flush.atcInvMaster(m, state.ssid);
        } else if (m.atsEnabled()) {
            flush.atcInvMaster(m, 0);
            m.disableAts();
        }
        removeMasterDomain(m, state.oldDomain, state.ssid);
    }

    /** arm_smmu_remove_master_domain: one entry of (master, ssid) off the domain's list, its IOPF reference dropped. */
    private void removeMasterDomain(Smmuv3Master m, IommuDomain domain, int ssid) {
        if (!(domain instanceof Smmuv3Domain d)) {
            return;
        }
        boolean usedIopf;
        synchronized (d.devicesLock) {
            Smmuv3Domain.MasterDomain md = new Smmuv3Domain.MasterDomain(m, ssid);
            if (d.devices.remove(md) && m.atsEnabled()) {
                d.nrAtsMasters--;
            }
            usedIopf = d.iopfUsers.remove(md);
        }
        if (usedIopf) {
            iopf.disable(m);
        }
    }

    /**
     * arm_smmu_install_ste_for_dev: records what the STE says (CD table, EATS) and writes it to
     * every stream of the master once (bridged PCI functions may list an id twice).
     */
    void installSte(Smmuv3Master m, long[] target) {
        m.cdTableInSte = Smmuv3Entries.steConfig(target) == StreamTableEntry.CFG_S1_TRANS;
        m.steAtsEnabled = Smmuv3Entries.steAtsEnabled(target);
        for (int i = 0; i < m.streams.length; i++) {
            boolean dup = false;
            for (int j = 0; j < i; j++) {
                dup |= m.streams[j] == m.streams[i];
            }
            if (!dup) {
                tables.writeSte(m.streams[i], target);
            }
        }
    }

        static Smmuv3Entries.CdTableRef cdTableRef(Smmuv3Master m) {
        return new Smmuv3Entries.CdTableRef(m.cdtab, m.s1fmt, m.s1cdmax);
    }

    /** arm_smmu_make_s1_cd for a domain and a master (CD.S when the master stalls). */
    static long[] s1Cd(Smmuv3Domain d, Smmuv3Master m) {
        ArmLpaeConfig cfg = d.table.config();
        return Smmuv3Entries.s1Cd(d.asid, cfg.tcr(), cfg.ttbr(), cfg.mair(), m.stallEnabled);
    }

    /**
     * arm_smmu_set_pasid: needs the RID on a CD-table STE, identity or blocked (-EINVAL
     * otherwise); the CD's leaf allocated (-ENOMEM); prepare, the CD written with the domain's
     * ASID, the STE turned into (or kept as) a CD-table one with the RID's behaviour in S1DSS and
     * the EATS the PASIDs need, commit.
     */
    int setPasid(Smmuv3Master m, Smmuv3Domain d, int pasid, long[] cd) {
        IommuDomain sidDomain = m.ridDomain();
        boolean sidStatic = sidDomain == null || sidDomain == identityDomain || sidDomain == blockedDomain;
        if (!m.cdTableInSte && !sidStatic) {
            return Errno.EINVAL.neg();
        }
        long cdptr = tables.allocCdPtr(m, pasid);
        if (cdptr == 0) {
            return Errno.ENOMEM.neg();
        }
        IommuDomain prev = m.pasids().get(pasid);
        if (prev == d) {
            return 0;
        }
        AttachState state = new AttachState(m, prev, pasid);
        int r = prepare(state, d);
        if (r != 0) {
            return r;
        }
        tables.writeCd(m, pasid, cdptr, cd);
        updateSte(m, sidDomain, state.atsEnabled);
        commit(state);
        m.pasids().put(pasid, d);
        return 0;
    }

    /**
     * arm_smmu_update_ste: nothing if the CD-table STE is in and EATS already right; else a
     * CD-table STE whose S1DSS keeps the RID's behaviour (bypass for identity, terminate for
     * blocked), hitless.
     */
    private void updateSte(Smmuv3Master m, IommuDomain sidDomain, boolean atsEnabled) {
        if (m.cdTableInSte && m.steAtsEnabled == atsEnabled) {
            return;
        }
        int s1dss = sidDomain == identityDomain ? StreamTableEntry.S1DSS_BYPASS : StreamTableEntry.S1DSS_TERMINATE;
        installSte(m, Smmuv3Entries.cdtableSte(drv.steFeatures(), cdTableRef(m), atsEnabled, s1dss, m.stallEnabled));
    }

    /**
     * The PASID leaves the master (arm_smmu_blocking_set_dev_pasid, S08): under the domain's
     * devices lock, so no master joins or leaves in between, the CD is cleared, then the leaving
     * master's ATC is invalidated for the SubstreamID, and, when it was the domain's last
     * attachment at that SubstreamID, the ATC of every other ATS master on the domain's list too
     * (the tag may be reused once the last holder is gone). No TLB invalidation: the ASID is no
     * longer reachable through this CD. When no SubstreamID is left in use, an identity or
     * blocked RID goes back to its plain STE.
     */
    void removeDevPasid(Smmuv3Master m, int pasid) {
        IommuDomain cur = m.pasids().remove(pasid);
        if (cur == null) {
            return;
        }
        Smmuv3Domain d = (Smmuv3Domain) cur;
        synchronized (d.devicesLock) {
            tables.clearCd(m, pasid);
            boolean last = true;
            List<Smmuv3Master> others = new ArrayList<>();
            for (Smmuv3Domain.MasterDomain md : d.devices) {
                if (md.master() == m) {
                    continue;
                }
                if (md.ssid() == pasid) {
                    last = false;
                }
                if (md.master().atsEnabled() && !others.contains(md.master())) {
                    others.add(md.master());
                }
            }
            if (m.atsEnabled() && !faults.take(DriverFaults.Skip.TEARDOWN_DEVICE_TLB)) {
                flush.atcInvMaster(m, pasid);
            }
            if (last) {
                for (Smmuv3Master o : others) {
                    if (!faults.take(DriverFaults.Skip.TEARDOWN_OTHER_DEVICE_TLB)) {
                        flush.atcInvMaster(o, pasid);
                    }
                }
            }
        }
        removeMasterDomain(m, d, pasid);
        IommuDomain sid = m.ridDomain();
        if (m.usedSsids == 0 && (sid == identityDomain || sid == blockedDomain)) {
            devSte(sid, m);
        }
    }
}
