/* kbench shim (own code): bit helpers on 64-bit longs. */
#ifndef KBENCH_LINUX_BITOPS_H
#define KBENCH_LINUX_BITOPS_H

#include <linux/types.h>

#define BITS_PER_LONG		64
#define BIT(nr)			(1UL << (nr))
#define BIT_ULL(nr)		(1ULL << (nr))
#define GENMASK(h, l)		((~0UL << (l)) & (~0UL >> (BITS_PER_LONG - 1 - (h))))
#define GENMASK_ULL(h, l)	((~0ULL << (l)) & (~0ULL >> (63 - (h))))

/* Index of the lowest / highest set bit; undefined for 0, as in the kernel. */
static inline unsigned long __ffs(unsigned long w) { return (unsigned long)__builtin_ctzl(w); }
static inline unsigned long __fls(unsigned long w) { return 63UL - (unsigned long)__builtin_clzl(w); }

/* Floor of log2; folds to a constant for constant arguments. */
#define ilog2(n)	((int)(63 - __builtin_clzll((unsigned long long)(n))))

/* Atomic bit set (a locked OR on x86, as the kernel's). */
static inline void set_bit(long nr, volatile unsigned long *addr)
{
	__atomic_fetch_or(addr + nr / BITS_PER_LONG, 1UL << (nr % BITS_PER_LONG), __ATOMIC_SEQ_CST);
}

#endif
