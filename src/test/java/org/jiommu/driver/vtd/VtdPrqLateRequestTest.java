package org.jiommu.driver.vtd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jiommu.hw.vtd.VtdRegisters.*;

import java.util.ArrayList;
import java.util.List;
import org.jiommu.bus.pci.PciDevice;
import org.jiommu.core.AttachHandle;
import org.jiommu.hw.vtd.InvDescriptor;
import org.jiommu.hw.vtd.VtdConfig;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The interleaving behind the flaky "dmar0 prq: invalid page request" of the free VT-d stress run,
 * driven in order. Worker A's device DMAs at its PASID 7, on a domain that takes no page faults;
 * the translation misses, the device sees PRI Enable set and sends a page request. Before the
 * request reaches the unit, worker B detaches the device's only IOPF-capable PASID (8): the drain
 * finds nothing of PASID 8, PRI Enable is cleared and the device leaves its IOPF queue
 * ({@code intel_iommu_disable_iopf}). Then A's request lands in the ring.
 *
 * <p>The kernel finds the device all the same: {@code device_rbtree_find} looks up every probed
 * ATS-capable PCI device (inserted by {@code intel_iommu_probe_device}, removed by
 * {@code intel_iommu_release_device}), not only those with IOPF on. So {@code prq_event_thread}
 * reports the request, {@code iommu_report_device_fault} finds no fault handler at PASID 7 and
 * answers it Invalid through {@code iopf_error_response}, silently. Only a device that was never
 * probed (or is already released) reaches {@code handle_bad_prq_event} and its "Invalid page
 * request" message.
 */
class VtdPrqLateRequestTest {
    private VtdFixture f;
    private PciDevice acc;
    private final List<InvDescriptor> log = new ArrayList<>();

    private List<Integer> responseCodes() {
        return log.stream().filter(d -> d instanceof InvDescriptor.PageGroupResponse)
                .map(d -> ((InvDescriptor.PageGroupResponse) d).responseCode()).toList();
    }

    @Test
    @DisplayName("a page request that reaches the unit just after the device's last IOPF-capable PASID went is reported to the core and answered Invalid, without the driver's 'invalid page request' (device_rbtree holds every probed ATS device)")
    void lateRequestAfterLastIopfPasid() {
        f = new VtdFixture(VtdConfig.scalable(48));
        acc = f.endpoint("acc", 5, true, 20, true);
        f.hotplug(acc);
        f.unit().unit().setDescriptorListener(log::add);
        VtdDomain plain = (VtdDomain) f.core().pagingDomainAlloc(acc);
        VtdDomain faulting = (VtdDomain) f.core().pagingDomainAlloc(acc);
        faulting.setIopfCapable(true);
        f.core().domainSetIopfHandler(faulting, g -> 0);
        f.core().attachDevicePasid(plain, acc, 7, new AttachHandle());
        f.core().attachDevicePasid(faulting, acc, 8, new AttachHandle());
        assertThat(acc.pri().enabled()).isTrue();

        // worker B: the last IOPF-capable attachment goes; PRI Enable is cleared
        f.core().detachDevicePasid(faulting, acc, 8);
        assertThat(acc.pri().enabled()).isFalse();
        // worker A's request, sent while PRI Enable was still set, reaches the unit now
        f.unit().unit().pageRequest(acc.requesterId(), 7, 0x9000, true, true, true, 3);

        assertThat(f.unit().prq.badCount()).isZero();
        assertThat(f.unit().prq.reportedCount()).isEqualTo(1);
        assertThat(responseCodes()).containsExactly(InvDescriptor.RESPONSE_INVALID);
        assertThat(f.core().warnings()).isEmpty();
    }

    /**
     * The order behind the stress run's WARN "n reports a fault but has no fault parameter" (issue
     * 16, seeds 22 and 29 of the 8-worker VT-d run): the device holds an SVA-like attachment at
     * PASID 8 (an IOPF domain marked by the driver) and, at PASID 7, a paging domain to which the
     * core gave a fault handler ({@code iommu_domain_set_iopf_handler}, as the stress run's domain
     * 0). PASID 8 goes. In the kernel the handler domain at 7 holds an IOPF reference
     * ({@code iopf_for_domain_set} tests {@code domain->iopf_handler}), so the device stays on its
     * IOPF queue with PRI on, and a request at 7 reaches the handler. The model's VT-d driver used
     * to count only its own mark: PASID 8 was the last reference, {@code intel_iommu_disable_iopf}
     * ran, and the request at 7 (sent before PRI Enable was cleared) found the handle at 7 but no
     * fault parameter: the core's {@code WARN_ON(!iopf_param)}.
     */
    @Test
    @DisplayName("a paging domain given a fault handler by the core holds an IOPF reference at its PASID: the device's other IOPF PASID going leaves IOPF on, and a request at the handler's PASID reaches the handler without a WARN (iopf_for_domain_set)")
    void handlerDomainHoldsIopfReference() {
        f = new VtdFixture(VtdConfig.scalable(48));
        acc = f.endpoint("acc", 5, true, 20, true);
        f.hotplug(acc);
        f.unit().unit().setDescriptorListener(log::add);
        VtdDomain handled = (VtdDomain) f.core().pagingDomainAlloc(acc);
        VtdDomain marked = (VtdDomain) f.core().pagingDomainAlloc(acc);
        marked.setIopfCapable(true);
        List<Object> seen = new ArrayList<>();
        f.core().domainSetIopfHandler(handled, g -> {
            seen.add(g);
            f.core().iopfGroupResponse(g, org.jiommu.core.spi.PageResponse.Code.SUCCESS);
            f.core().iopfFreeGroup(g);
            return 0;
        });
        assertThat(handled.iopfCapable()).isTrue();
        f.core().attachDevicePasid(marked, acc, 8, new AttachHandle());
        f.core().attachDevicePasid(handled, acc, 7, new AttachHandle());
        assertThat(f.driver().iopfRefcount(acc)).isEqualTo(2);

        f.core().detachDevicePasid(marked, acc, 8);
        assertThat(f.driver().iopfRefcount(acc)).isEqualTo(1);
        assertThat(acc.pri().enabled()).isTrue();
        f.unit().unit().pageRequest(acc.requesterId(), 7, 0x9000, true, true, true, 3);

        assertThat(f.core().warnings()).isEmpty();
        assertThat(f.unit().prq.reportedCount()).isEqualTo(1);
        assertThat(seen).hasSize(1);
        assertThat(responseCodes()).containsExactly(InvDescriptor.RESPONSE_SUCCESS);

        f.core().detachDevicePasid(handled, acc, 7);
        assertThat(f.driver().iopfRefcount(acc)).isZero();
        assertThat(acc.pri().enabled()).isFalse();
    }

    /** iopf_for_domain_replace: the new domain's IOPF reference is taken before the old one's goes. */
    @Test
    @DisplayName("replacing the only IOPF domain at a PASID by another IOPF domain keeps the device on its IOPF queue (iopf_for_domain_replace: set new, then remove old)")
    void replaceBetweenIopfDomainsKeepsIopf() {
        f = new VtdFixture(VtdConfig.scalable(48));
        acc = f.endpoint("acc", 5, true, 20, true);
        f.hotplug(acc);
        VtdDomain one = (VtdDomain) f.core().pagingDomainAlloc(acc);
        VtdDomain two = (VtdDomain) f.core().pagingDomainAlloc(acc);
        one.setIopfCapable(true);
        two.setIopfCapable(true);
        f.core().attachDevicePasid(one, acc, 8, new AttachHandle());
        assertThat(f.driver().iopfRefcount(acc)).isEqualTo(1);

        f.core().replaceDevicePasid(two, acc, 8, new AttachHandle());
        assertThat(f.driver().iopfRefcount(acc)).isEqualTo(1);
        assertThat(acc.pri().enabled()).isTrue();
        f.unit().unit().pageRequest(acc.requesterId(), 8, 0x9000, true, true, true, 3);
        assertThat(f.core().warnings()).isEmpty();
        assertThat(f.unit().prq.reportedCount()).isEqualTo(1);

        f.core().detachDevicePasid(two, acc, 8);
        assertThat(f.driver().iopfRefcount(acc)).isZero();
        assertThat(acc.pri().enabled()).isFalse();
    }

    @Test
    @DisplayName("a page request from a requester id no probed device has is the driver's bad request: 'invalid page request' and an Invalid response (handle_bad_prq_event)")
    void requestFromUnknownRequesterIsBad() {
        f = new VtdFixture(VtdConfig.scalable(48));
        acc = f.endpoint("acc", 5, true, 20, true);
        PciDevice other = f.endpoint("other", 6, true, 20, true);
        f.hotplug(acc, other);
        f.unit().unit().setDescriptorListener(log::add);
        // the request is in the ring (its event masked) when the device is released; the
        // handler runs after intel_iommu_release_device took it out of device_rbtree
        f.unit().unit().write32(PECTL_REG, ECTL_IM);
        f.unit().unit().pageRequest(other.requesterId(), 7, 0x9000, true, true, true, 3);
        assertThat(f.unit().prq.empty()).isFalse();
        f.core().releaseDevice(other);
        f.unit().prq.eventThread();

        assertThat(f.unit().prq.badCount()).isEqualTo(1);
        assertThat(f.unit().prq.reportedCount()).isZero();
        assertThat(responseCodes()).containsExactly(InvDescriptor.RESPONSE_INVALID);
        assertThat(f.core().warnings()).anyMatch(w -> w.toString().contains("invalid page request"));
    }
}
