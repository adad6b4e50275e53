/* kbench shim (own code): branch hints, compiler barrier, single-copy accesses. */
#ifndef KBENCH_LINUX_COMPILER_H
#define KBENCH_LINUX_COMPILER_H

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* Stops the compiler from moving memory accesses across it; emits no instruction. */
#define barrier()	__asm__ __volatile__("" ::: "memory")

/* One access of the whole object, not torn, not cached in a register (volatile, as the kernel). */
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val)	do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)

#ifndef __always_inline
#define __always_inline	inline __attribute__((__always_inline__))
#endif
#ifndef __cold
#define __cold		__attribute__((__cold__))
#endif
#define __init
#define __initdata
#define __initconst

#endif
