package org.jiommu.base;

/**
 * IOMMU_* protection flags of include/linux/iommu.h, as an int bit set (kept as a primitive
 * because every map call on the hot path carries one).
 */
public final class Prot {
    public static final int READ = 1 << 0;
    public static final int WRITE = 1 << 1;
    public static final int CACHE = 1 << 2;
    public static final int NOEXEC = 1 << 3;
    public static final int MMIO = 1 << 4;
    public static final int PRIV = 1 << 5;

    public static final int RW = READ | WRITE;
    public static final int ALL = READ | WRITE | CACHE | NOEXEC | MMIO | PRIV;

    private Prot() {
    }

    /**
     * Parses the letters the vectors and scenarios use: {@code r} read, {@code w} write,
     * {@code x} NOEXEC (not "execute"), {@code c} cache, {@code m} mmio, {@code p} priv,
     * {@code -} none.
     */
    public static int parse(String letters) {
        int prot = 0;
        for (int i = 0; i < letters.length(); i++) {
            char c = letters.charAt(i);
            switch (c) {
                case 'r': prot |= READ; break;
                case 'w': prot |= WRITE; break;
                case 'x': prot |= NOEXEC; break;
                case 'c': prot |= CACHE; break;
                case 'm': prot |= MMIO; break;
                case 'p': prot |= PRIV; break;
                case '-': break;
                default: throw new IllegalArgumentException("unknown prot letter '" + c + "' in \"" + letters + "\"");
            }
        }
        return prot;
    }

    /** The inverse of {@link #parse}, in the order r w x c m p; {@code -} for none. */
    public static String format(int prot) {
        StringBuilder sb = new StringBuilder();
        if ((prot & READ) != 0) sb.append('r');
        if ((prot & WRITE) != 0) sb.append('w');
        if ((prot & NOEXEC) != 0) sb.append('x');
        if ((prot & CACHE) != 0) sb.append('c');
        if ((prot & MMIO) != 0) sb.append('m');
        if ((prot & PRIV) != 0) sb.append('p');
        return sb.length() == 0 ? "-" : sb.toString();
    }
}
