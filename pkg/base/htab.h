/* Open-addressing index table: maps a hash to indexes of entries that live in
 * the caller's contiguous array. The caller owns the entries and equality, the
 * table owns only (hash, index) pairs: interning without a second copy, and
 * deletion without tombstones, so a table under churn stays as fast. */
#ifndef BPPROF_BASE_HTAB_H
#define BPPROF_BASE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xxhash.h>

struct htab {
	uint64_t *slots;	/* (hash32 << 32) | (index + 1); 0 is empty */
	uint32_t mask;
	uint32_t count;
};

typedef bool htab_eq_fn(const void *ctx, uint32_t idx, const void *key);

/* A walk over every (hash, index) pair: start from HTAB_ITER_INIT. */
struct htab_iter {
	uint32_t pos;	/* next slot to look at */
	uint32_t hash;
	uint32_t idx;
};

#define HTAB_ITER_INIT ((struct htab_iter){ 0 })

int htab__init(struct htab *t, size_t hint);
void htab__free(struct htab *t);
/* Record idx under hash h; the caller has checked it is not there. */
int htab__insert(struct htab *t, uint32_t h, uint32_t idx);
/* Forget idx, recorded under hash h: 0, or -ENOENT when it is not there. */
int htab__delete(struct htab *t, uint32_t h, uint32_t idx);
/* The next pair into it->hash and it->idx, in slot order; false after the
 * last. Each pair comes once when the table does not change meanwhile. */
bool htab__next(const struct htab *t, struct htab_iter *it);

/* Index of the entry equal to key, or -1. */
static inline int64_t htab__find(const struct htab *t, uint32_t h, htab_eq_fn *eq,
				 const void *ctx, const void *key)
{
	uint32_t pos = h & t->mask;

	if (!t->slots)
		return -1;
	for (;; pos = (pos + 1) & t->mask) {
		uint64_t s = t->slots[pos];

		if (!s)
			return -1;
		if ((uint32_t)(s >> 32) == h && eq(ctx, (uint32_t)s - 1, key))
			return (uint32_t)s - 1;
	}
}

static inline uint32_t htab__hash(const void *p, size_t n, uint64_t seed)
{
	uint64_t h = XXH3_64bits_withSeed(p, n, seed);

	return (uint32_t)(h ^ (h >> 32));
}

#endif
