/* kbench shim (own code): the generic helpers the io-pgtable code uses. */
#ifndef KBENCH_LINUX_KERNEL_H
#define KBENCH_LINUX_KERNEL_H

#include <errno.h>		/* EINVAL, EEXIST, ENOMEM, ERANGE, ENOENT, EOPNOTSUPP: Linux values */
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/bug.h>
#include <linux/bitops.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - __builtin_offsetof(type, member)))

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))

#define min(a, b)	({ __auto_type __kb_a = (a); __auto_type __kb_b = (b); __kb_a < __kb_b ? __kb_a : __kb_b; })
#define max(a, b)	({ __auto_type __kb_a = (a); __auto_type __kb_b = (b); __kb_a > __kb_b ? __kb_a : __kb_b; })
#define min_t(t, a, b)	({ t __kb_a = (a); t __kb_b = (b); __kb_a < __kb_b ? __kb_a : __kb_b; })
#define max_t(t, a, b)	({ t __kb_a = (a); t __kb_b = (b); __kb_a > __kb_b ? __kb_a : __kb_b; })
#define round_up(x, y)		((((x) - 1) | ((__typeof__(x))((y) - 1))) + 1)
#define round_down(x, y)	((x) & ~((__typeof__(x))((y) - 1)))

/* Log output is dropped (only the unreachable error and selftest paths print). */
#define pr_err(...)	((void)0)
#define pr_warn(...)	((void)0)
#define pr_info(...)	((void)0)
#define pr_debug(...)	((void)0)

/* No module system: a harmless redeclaration. */
#define EXPORT_SYMBOL(sym)	extern __typeof__(sym) sym
#define EXPORT_SYMBOL_GPL(sym)	extern __typeof__(sym) sym

#endif
