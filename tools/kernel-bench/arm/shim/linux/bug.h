/*
 * kbench shim (own code): WARN_ON and friends evaluate the condition and return it, as in
 * the kernel; a true condition prints nothing and only counts (kbench_warn_hit, out of line
 * and cold, like the kernel's trap in its unlikely branch). The harness reports the count.
 */
#ifndef KBENCH_LINUX_BUG_H
#define KBENCH_LINUX_BUG_H

#include <linux/compiler.h>

void kbench_warn_hit(const char *file, int line) __cold;
void kbench_bug(const char *file, int line) __cold __attribute__((__noreturn__));

#define WARN_ON(cond) ({						\
	int __kb_w = !!(cond);						\
	if (unlikely(__kb_w))						\
		kbench_warn_hit(__FILE__, __LINE__);			\
	unlikely(__kb_w);						\
})
#define WARN_ON_ONCE(cond)		WARN_ON(cond)
#define WARN(cond, ...)			WARN_ON(cond)
#define WARN_ONCE(cond, ...)		WARN_ON(cond)
#define BUG_ON(cond)	do { if (unlikely(cond)) kbench_bug(__FILE__, __LINE__); } while (0)
#define VM_BUG_ON(cond)	do { (void)sizeof(cond); } while (0)

#endif
