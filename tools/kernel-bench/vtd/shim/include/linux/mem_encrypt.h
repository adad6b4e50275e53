/*
 * Stand-in for <linux/mem_encrypt.h>: no memory encryption in user space, so
 * setting or clearing the encryption bit of a physical address does nothing
 * (as on a kernel without AMD SME active).  Needed by generic_pt's x86_64
 * format only.
 */
#ifndef KSHIM_LINUX_MEM_ENCRYPT_H
#define KSHIM_LINUX_MEM_ENCRYPT_H

#define __sme_set(x) (x)
#define __sme_clr(x) (x)

#endif
