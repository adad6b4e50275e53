package org.jiommu.base;

/**
 * The one way a public jiommu call fails: a kernel errno and a message naming the objects
 * and the rule, e.g. {@code EBUSY: group 3 (nic0) is owned by the DMA API}. A call that
 * throws it has changed nothing.
 */
public final class IommuException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Errno errno;

    public IommuException(Errno errno, String message) {
        super(errno.name() + ": " + message);
        this.errno = errno;
    }

    public IommuException(Errno errno, String message, Throwable cause) {
        super(errno.name() + ": " + message, cause);
        this.errno = errno;
    }

    public Errno errno() {
        return errno;
    }

    /** Throws for a negative kernel return value; returns the value otherwise. */
    public static int check(int ret, String what) {
        if (ret < 0) {
            throw new IommuException(Errno.fromCode(ret), what);
        }
        return ret;
    }
}
