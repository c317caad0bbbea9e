/* The preload library's record of sampled blocks: an exact, lock-free table
 * (address → id) behind a byte filter that a free reads first. The filter
 * counts the table's blocks per slot, so a zero means "not sampled" for
 * certain and the free goes straight to the allocator; a non-zero costs a
 * table lookup, which tells a sampled block from a neighbour sharing its
 * slot. Nothing here allocates or locks: frees in signal handlers and on
 * any thread go through it. Header-only, so the unit test runs the very
 * code the library does. */
#ifndef BPPROF_PRELOAD_PTABLE_H
#define BPPROF_PRELOAD_PTABLE_H
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PTABLE_FILTER_BITS	16		/* 64 KiB of counters */
#define PTABLE_FILTER_SLOTS	(1u << PTABLE_FILTER_BITS)
#define PTABLE_STICKY		255		/* a counter that reached this stays */
#define PTABLE_WAYS		4		/* slots per bucket: one cache line */
#define PTABLE_MAX_BITS		24		/* at most 2^24 buckets (1 GiB) */

struct ptable_slot {
	uint64_t addr;				/* 0: empty */
	uint64_t id;
};

struct ptable {
	uint8_t *filter;			/* PTABLE_FILTER_SLOTS counters */
	struct ptable_slot *slots;		/* buckets × PTABLE_WAYS */
	unsigned bits;				/* log2 of the buckets */
};

/* A block's filter slot. Blocks are 16-byte aligned, and neighbours in
 * memory get neighbouring counters: a loop freeing nearby blocks reads
 * one cache line of the filter. The higher bits are folded in so blocks
 * a multiple of 1 MiB apart do not all share a slot. */
static inline size_t ptable__filter_slot(uintptr_t addr)
{
	return ((addr >> 4) ^ (addr >> 20)) & (PTABLE_FILTER_SLOTS - 1);
}

/* Buckets needed for live blocks at most half full. */
static inline unsigned ptable__bits_for(uint64_t live)
{
	unsigned bits = 1;

	while (bits < PTABLE_MAX_BITS && ((uint64_t)PTABLE_WAYS << bits) < 2 * live)
		bits++;
	return bits;
}

static inline size_t ptable__bytes(unsigned bits)
{
	return ((size_t)PTABLE_WAYS << bits) * sizeof(struct ptable_slot);
}

/* Two candidate buckets per address (two-choice hashing keeps a table of
 * 4-slot buckets usable past 90% full); different ones. */
static inline void ptable__buckets(const struct ptable *t, uintptr_t addr, size_t b[2])
{
	uint64_t a = (uint64_t)addr >> 4;

	b[0] = (size_t)((a * 0x9e3779b97f4a7c15ull) >> (64 - t->bits));
	b[1] = (size_t)((a * 0xc2b2ae3d27d4eb4full) >> (64 - t->bits));
	if (b[1] == b[0])
		b[1] ^= 1;
}

/* addr's slot, or NULL. Address 0 marks an empty slot: it is no block
 * (free(NULL) comes here whenever filter slot 0 is in use). */
static inline struct ptable_slot *ptable__find(const struct ptable *t, uintptr_t addr)
{
	size_t b[2], i, k;

	if (!addr)
		return NULL;
	ptable__buckets(t, addr, b);
	for (k = 0; k < 2; k++) {
		struct ptable_slot *s = t->slots + b[k] * PTABLE_WAYS;

		for (i = 0; i < PTABLE_WAYS; i++)
			if (__atomic_load_n(&s[i].addr, __ATOMIC_ACQUIRE) == addr)
				return &s[i];
	}
	return NULL;
}

static inline bool ptable__maybe(const struct ptable *t, uintptr_t addr)
{
	return __atomic_load_n(&t->filter[ptable__filter_slot(addr)], __ATOMIC_RELAXED) != 0;
}

/* Counters saturate: one that reached PTABLE_STICKY is never lowered
 * again (it no longer knows how many blocks it stands for), which costs
 * lookups, never a missed free. */
static inline void ptable__count(struct ptable *t, uintptr_t addr, int delta)
{
	uint8_t *c = &t->filter[ptable__filter_slot(addr)];
	uint8_t v = __atomic_load_n(c, __ATOMIC_RELAXED);

	do {
		if (v == PTABLE_STICKY || (delta < 0 && !v))
			return;
	} while (!__atomic_compare_exchange_n(c, &v, (uint8_t)(v + delta), true, __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

/* Mark addr's filter slot for good: for blocks that must never reach the
 * allocator's free (the library's own bootstrap memory). */
static inline void ptable__pin(struct ptable *t, uintptr_t addr)
{
	__atomic_store_n(&t->filter[ptable__filter_slot(addr)], PTABLE_STICKY, __ATOMIC_RELEASE);
}

/* Enter a sampled block. 0; 1 when addr was in the table already (the
 * allocator gave it out again, so its free went by unseen): *stale is the
 * old block's id and the slot now holds the new one; -ENOSPC when both
 * buckets are full (the block is not tracked). Only the thread the
 * allocator just gave addr to inserts it, so it cannot race a free of it. */
static inline int ptable__insert(struct ptable *t, uintptr_t addr, uint64_t id, uint64_t *stale)
{
	struct ptable_slot *s = ptable__find(t, addr);
	size_t b[2], i, k;

	if (s) {
		*stale = s->id;
		s->id = id;
		return 1;
	}
	ptable__buckets(t, addr, b);
	for (k = 0; k < 2; k++) {
		s = t->slots + b[k] * PTABLE_WAYS;
		for (i = 0; i < PTABLE_WAYS; i++) {
			uint64_t empty = 0;

			if (__atomic_load_n(&s[i].addr, __ATOMIC_RELAXED) ||
			    !__atomic_compare_exchange_n(&s[i].addr, &empty, (uint64_t)addr, false,
							 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				continue;
			s[i].id = id;
			ptable__count(t, addr, 1);
			return 0;
		}
	}
	return -ENOSPC;
}

/* Take addr out: true, with its id, when it was a sampled block. The slot
 * is emptied by compare-and-swap, so of two racing frees (a double free in
 * the program) one finds it. */
static inline bool ptable__remove(struct ptable *t, uintptr_t addr, uint64_t *id)
{
	struct ptable_slot *s = ptable__find(t, addr);
	uint64_t want = (uint64_t)addr;

	if (!s)
		return false;
	*id = s->id;
	if (!__atomic_compare_exchange_n(&s->addr, &want, 0, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return false;
	ptable__count(t, addr, -1);
	return true;
}

#endif
