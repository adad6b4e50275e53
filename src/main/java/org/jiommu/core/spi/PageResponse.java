package org.jiommu.core.spi;

/**
 * {@code struct iommu_page_response}: the answer to a page request group (SEMANTICS.md 10).
 *
 * @param pasidValid the group's requests carried a PASID
 * @param pasid the PASID the requests carried
 * @param grpid the group index
 * @param code the response code
 */
public record PageResponse(boolean pasidValid, int pasid, int grpid, Code code) {
    /** {@code enum iommu_page_response_code}. */
    public enum Code {
        /** The pages are there: retry the access. */
        SUCCESS,
        /** Do not retry this request (no handler, bad address, no rights). */
        INVALID,
        /** Stop sending page requests (the handler failed). */
        FAILURE
    }
}
