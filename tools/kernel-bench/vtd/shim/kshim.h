/*
 * kshim.h - user-space stand-ins for the little kernel infrastructure that the
 * generic page-table code (drivers/iommu/generic_pt) uses when built for the
 * VT-d second-stage format.  Written for jiommu's benchmark harness; it holds
 * no kernel code.  Every <linux/...> header the kernel files include is a
 * one-line file under include/linux/ that pulls this in (iommu.h adds the
 * IOMMU core types).
 *
 * Choices that matter for timing are listed in ../README.md.
 */
#ifndef KSHIM_H
#define KSHIM_H

#include <errno.h>     /* Linux errno values are the kernel's */
#include <limits.h>    /* UINT_MAX, ULONG_MAX */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration: what a distro x86-64 kernel with VT-d would have ---- */
#define CONFIG_64BIT 1
#define CONFIG_X86_64 1
#define CONFIG_SMP 1
/*
 * Left undefined: CONFIG_GENERIC_ATOMIC64 (x86-64 has native 64-bit cmpxchg),
 * CONFIG_DEBUG_GENERIC_PT (production default; run.sh --debug-pt defines it),
 * CONFIG_IOMMUFD_DRIVER / CONFIG_IOMMUFD_TEST (only dirty tracking uses them).
 */

/*
 * IS_ENABLED(CONFIG_FOO): 1 when CONFIG_FOO is defined as 1, else 0; usable
 * in #if.  A "1" argument turns into "junk, 1" so the second element picks 1.
 */
#define KSHIM_ONE_IS_1 kshim_junk,
#define KSHIM_SECOND(a, b, ...) b
#define KSHIM_PICK(maybe_junk) KSHIM_SECOND(maybe_junk 1, 0, 0)
#define KSHIM_PASTE_ONE(v) KSHIM_PICK(KSHIM_ONE_IS_##v)
#define IS_ENABLED(option) KSHIM_PASTE_ONE(option)
#define IS_BUILTIN(option) IS_ENABLED(option)
#define IS_REACHABLE(option) IS_ENABLED(option)

/* ---- compiler ---- */
#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif
#define noinline __attribute__((__noinline__))
#define __maybe_unused __attribute__((__unused__))
#define __must_check __attribute__((__warn_unused_result__))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")

#define KSHIM_STR1(x...) #x
#define __stringify(x...) KSHIM_STR1(x)
#define KSHIM_CAT1(a, b) a##b
#define CONCATENATE(a, b) KSHIM_CAT1(a, b)

/* static_assert(expr) and static_assert(expr, "msg") */
#define KSHIM_SA(expr, msg, ...) _Static_assert(expr, msg)
#define static_assert(expr, ...) KSHIM_SA(expr, ##__VA_ARGS__, #expr)

/* A BUILD_BUG() that survives -O2 dead-code elimination fails the build. */
extern void kshim_build_bug(void) __attribute__((__error__("BUILD_BUG reached")));
#define BUILD_BUG() kshim_build_bug()
#define BUILD_BUG_ON(cond) do { if (cond) BUILD_BUG(); } while (0)

/* ---- types ---- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 phys_addr_t;
typedef u64 dma_addr_t;
typedef unsigned int gfp_t;
typedef struct { int unused; } spinlock_t;

#define GFP_KERNEL 0xcc0u
#define NUMA_NO_NODE (-1)

#define U8_MAX ((u8)~0U)
#define U16_MAX ((u16)~0U)
#define U32_MAX ((u32)~0U)
#define U64_MAX ((u64)~0ULL)
#define S64_MAX ((s64)(U64_MAX >> 1))

/* ---- bits ---- */
#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define GENMASK(h, l) ((~0UL << (l)) & (~0UL >> (63 - (h))))
#define GENMASK_ULL(h, l) ((~0ULL << (l)) & (~0ULL >> (63 - (h))))

/* fls: 1-based index of the highest set bit, 0 for 0; __ffs: 0-based lowest set bit */
static inline int fls(unsigned int x)
{
	return x ? 32 - __builtin_clz(x) : 0;
}
static inline int fls64(u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}
static inline unsigned long __ffs(unsigned long x)
{
	return (unsigned long)__builtin_ctzl(x);
}
static inline unsigned int __ffs64(u64 x)
{
	return (unsigned int)__builtin_ctzll(x);
}
static inline unsigned long ffz(unsigned long x)
{
	return __ffs(~x);
}
/* floor(log2(n)) for n > 0; folds to a constant for constant n */
#define ilog2(n) ((int)(63 - __builtin_clzll((unsigned long long)(n))))

/* linux/bitfield.h: mask is a constant contiguous run of bits */
#define FIELD_GET(mask, reg) \
	((u64)(((reg) & (mask)) >> __builtin_ctzll(mask)))
#define FIELD_PREP(mask, val) \
	((((u64)(val)) << __builtin_ctzll(mask)) & (mask))

/* ---- arithmetic helpers ---- */
#define min(a, b) ({ __auto_type _ka = (a); __auto_type _kb = (b); _ka < _kb ? _ka : _kb; })
#define max(a, b) ({ __auto_type _ka = (a); __auto_type _kb = (b); _ka > _kb ? _ka : _kb; })
#define min_t(type, a, b) ({ type _ka = (a); type _kb = (b); _ka < _kb ? _ka : _kb; })
#define max_t(type, a, b) ({ type _ka = (a); type _kb = (b); _ka > _kb ? _ka : _kb; })
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define container_of_const(ptr, type, member) container_of(ptr, type, member)
#define offsetofend(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))
/* zero everything in *obj after member */
#define memset_after(obj, v, member)                                           \
	memset((char *)(obj) + offsetofend(__typeof__(*(obj)), member), v,     \
	       sizeof(*(obj)) - offsetofend(__typeof__(*(obj)), member))

/* ---- error pointers ---- */
#define MAX_ERRNO 4095
static inline void *ERR_PTR(long error)
{
	return (void *)error;
}
static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}
static inline bool IS_ERR(const void *ptr)
{
	return (unsigned long)ptr >= (unsigned long)-MAX_ERRNO;
}

/* ---- memory model (x86-64: plain loads/stores, lock cmpxchg) ---- */
#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val) __atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define dma_wmb() barrier()
#define KSHIM_TRY_CMPXCHG(ptr, oldp, new, order)                              \
	__atomic_compare_exchange_n(ptr, oldp, new, false, order,              \
				    __ATOMIC_RELAXED)
#define try_cmpxchg64(ptr, oldp, new) KSHIM_TRY_CMPXCHG(ptr, oldp, new, __ATOMIC_SEQ_CST)
#define try_cmpxchg64_release(ptr, oldp, new) KSHIM_TRY_CMPXCHG(ptr, oldp, new, __ATOMIC_RELEASE)
#define try_cmpxchg(ptr, oldp, new) KSHIM_TRY_CMPXCHG(ptr, oldp, new, __ATOMIC_SEQ_CST)
#define try_cmpxchg_release(ptr, oldp, new) KSHIM_TRY_CMPXCHG(ptr, oldp, new, __ATOMIC_RELEASE)

/* Locks: only the dynamic-top path takes one, which vtdss never compiles in. */
#define spin_lock_irqsave(lock, flags) do { (void)(lock); (flags) = 0; } while (0)
#define spin_unlock_irqrestore(lock, flags) do { (void)(lock); (void)(flags); } while (0)

/* ---- pages: user-space pointers are their own "physical" addresses ---- */
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
static inline phys_addr_t virt_to_phys(const volatile void *p)
{
	return (phys_addr_t)(uintptr_t)p;
}
#define __va(pa) ((void *)(uintptr_t)(pa))

/* ---- diagnostics: counted, never fatal here (the harness checks the count) ---- */
extern unsigned long kshim_warn_count;
extern unsigned long kshim_pr_err_count;
#define WARN_ON(cond) ({                                                       \
	bool _kw = !!(cond);                                                   \
	if (unlikely(_kw))                                                     \
		kshim_warn_count++;                                            \
	_kw;                                                                   \
})
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define pr_err_ratelimited(fmt, ...) \
	do { kshim_pr_err_count++; fprintf(stderr, "pr_err: " fmt, ##__VA_ARGS__); } while (0)
#define pr_err(fmt, ...) pr_err_ratelimited(fmt, ##__VA_ARGS__)

/* ---- module boilerplate: nothing to do in user space ---- */
#define EXPORT_SYMBOL_NS_GPL(sym, ns) extern int kshim_no_exports
#define EXPORT_SYMBOL_GPL(sym) extern int kshim_no_exports
#define MODULE_LICENSE(x) extern int kshim_no_modinfo
#define MODULE_DESCRIPTION(x) extern int kshim_no_modinfo
#define MODULE_IMPORT_NS(x) extern int kshim_no_modinfo

#endif /* KSHIM_H */
