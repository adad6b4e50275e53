/*
 * kbench shim (own code): memory barriers.
 *
 * dma_wmb(): a compiler barrier, which is also what the x86-64 kernel makes of it.
 * wmb(): by default a compiler barrier too (x86 keeps stores in order; nothing here reads the
 * tables behind the CPU's back). Built with -DKBENCH_WMB_SFENCE it is an sfence, the x86-64
 * kernel's own wmb(). (On arm64, where this code normally runs, wmb() is a dsb st and
 * dma_wmb() a dmb oshst; neither has an x86 equivalent cost.)
 */
#ifndef KBENCH_ASM_BARRIER_H
#define KBENCH_ASM_BARRIER_H

#include <linux/compiler.h>

#ifdef KBENCH_WMB_SFENCE
#define wmb()		__asm__ __volatile__("sfence" ::: "memory")
#else
#define wmb()		barrier()
#endif
#define rmb()		barrier()
#define mb()		__asm__ __volatile__("mfence" ::: "memory")
#define dma_wmb()	barrier()
#define dma_rmb()	barrier()
#define smp_wmb()	barrier()
#define smp_rmb()	barrier()
#define smp_mb()	mb()

#endif
