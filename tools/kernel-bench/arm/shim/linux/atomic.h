/* kbench shim (own code): 64-bit compare-and-exchange (lock cmpxchg on x86, as the kernel's). */
#ifndef KBENCH_LINUX_ATOMIC_H
#define KBENCH_LINUX_ATOMIC_H

#include <linux/types.h>

/* Returns the value found at *ptr; stores n only if it was o. */
#define cmpxchg64_relaxed(ptr, o, n) ({						\
	__typeof__(*(ptr)) __kb_old = (o);					\
	__atomic_compare_exchange_n((ptr), &__kb_old, (n), false,		\
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED);	\
	__kb_old;								\
})
#define cmpxchg64(ptr, o, n) ({							\
	__typeof__(*(ptr)) __kb_old = (o);					\
	__atomic_compare_exchange_n((ptr), &__kb_old, (n), false,		\
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);	\
	__kb_old;								\
})

#endif
