/* kbench shim (own code): the scalar types the io-pgtable code names. */
#ifndef KBENCH_LINUX_TYPES_H
#define KBENCH_LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;

typedef u64 phys_addr_t;	/* 64-bit physical addresses (arm64, x86-64) */
typedef u64 dma_addr_t;
typedef unsigned int gfp_t;
typedef unsigned long pgoff_t;

typedef struct { int counter; } atomic_t;

struct list_head {
	struct list_head *next, *prev;
};

#endif
