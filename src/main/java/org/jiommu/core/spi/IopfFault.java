package org.jiommu.core.spi;

/**
 * {@code struct iommu_fault_page_request} (SEMANTICS.md 10): one recoverable page request a
 * device sent (PCI PRI, SMMU stall), as the driver reports it to the core.
 *
 * @param pasidValid {@code IOMMU_FAULT_PAGE_REQUEST_PASID_VALID}
 * @param pasid the PASID, meaningful when {@code pasidValid}
 * @param grpid the page request group index
 * @param last {@code IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE}: the last request of its group
 * @param perm {@link #PERM_READ} | {@link #PERM_WRITE} | {@link #PERM_EXEC} | {@link #PERM_PRIV}
 * @param addr the faulting page address
 */
public record IopfFault(boolean pasidValid, int pasid, int grpid, boolean last, int perm, long addr) {
    public static final int PERM_READ = 1 << 0;
    public static final int PERM_WRITE = 1 << 1;
    public static final int PERM_EXEC = 1 << 2;
    public static final int PERM_PRIV = 1 << 3;

    /** A PASID-tagged request. */
    public static IopfFault withPasid(int pasid, int grpid, boolean last, int perm, long addr) {
        return new IopfFault(true, pasid, grpid, last, perm, addr);
    }

    /** A request without PASID (translated by the RID's domain). */
    public static IopfFault noPasid(int grpid, boolean last, int perm, long addr) {
        return new IopfFault(false, 0, grpid, last, perm, addr);
    }

    @Override
    public String toString() {
        // every traced iommu_report_device_fault formats its fault: no format string to parse
        StringBuilder sb = new StringBuilder(48).append("prq(");
        if (pasidValid) {
            sb.append("pasid=").append(pasid).append(", ");
        }
        sb.append("grp=").append(grpid);
        if (last) {
            sb.append(", last");
        }
        sb.append(", ").append((perm & PERM_READ) != 0 ? 'r' : '-').append((perm & PERM_WRITE) != 0 ? 'w' : '-')
                .append((perm & PERM_EXEC) != 0 ? 'x' : '-');
        return sb.append(", 0x").append(Long.toHexString(addr)).append(')').toString();
    }
}
