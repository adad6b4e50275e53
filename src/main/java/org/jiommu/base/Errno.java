package org.jiommu.base;

/**
 * Linux errno values, with the kernel's numbers, as the IOMMU core and drivers return them.
 * Negative values of {@link #code} are what kernel functions return; {@link #fromCode(int)}
 * accepts either sign.
 */
public enum Errno {
    EPERM(1),
    ENOENT(2),
    EIO(5),
    ENXIO(6),
    EAGAIN(11),
    ENOMEM(12),
    EACCES(13),
    EFAULT(14),
    EBUSY(16),
    EEXIST(17),
    ENODEV(19),
    EINVAL(22),
    ENOSPC(28),
    ERANGE(34),
    ENOSYS(38),
    EOPNOTSUPP(95),
    ETIMEDOUT(110),
    EPROBE_DEFER(517),
    EOVERFLOW(75),
    EADDRINUSE(98);

    /** The positive kernel errno number. */
    public final int code;

    Errno(int code) {
        this.code = code;
    }

    /** The value a kernel function returns for this error: {@code -code}. */
    public int neg() {
        return -code;
    }

    /** The errno with this number (sign ignored). */
    public static Errno fromCode(int code) {
        int c = Math.abs(code);
        for (Errno e : values()) {
            if (e.code == c) {
                return e;
            }
        }
        throw new IllegalArgumentException("unknown errno " + code);
    }

    /** Kernel-style rendering of a return value: {@code 0(OK)} or {@code -17(EEXIST)}. */
    public static String describe(int ret) {
        return ret == 0 ? "0(OK)" : ret + "(" + fromCode(ret).name() + ")";
    }
}
