/* Open addressing with linear probing at most half full; deletion shifts
 * the rest of a probe run back, so no slot is ever a tombstone. */
#include <errno.h>
#include <stdlib.h>

#include "base/htab.h"

static int htab__resize(struct htab *t, uint32_t nslots)
{
	uint64_t *slots = calloc(nslots, sizeof(*slots));
	uint32_t i, mask = nslots - 1;

	if (!slots)
		return -ENOMEM;
	for (i = 0; t->slots && i <= t->mask; i++) {
		uint64_t s = t->slots[i];
		uint32_t pos;

		if (!s)
			continue;
		for (pos = (uint32_t)(s >> 32) & mask; slots[pos]; pos = (pos + 1) & mask)
			;
		slots[pos] = s;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = mask;
	return 0;
}

int htab__init(struct htab *t, size_t hint)
{
	uint32_t n = 16;

	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
	while (n < hint * 2 && n < (1u << 31))
		n *= 2;
	return htab__resize(t, n);
}

void htab__free(struct htab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = t->count = 0;
}

int htab__insert(struct htab *t, uint32_t h, uint32_t idx)
{
	uint32_t pos;
	int err;

	if (idx >= UINT32_MAX - 1)
		return -E2BIG;
	if (!t->slots || (t->count + 1) * 2 > t->mask + 1) {
		uint32_t n = t->slots ? (t->mask + 1) * 2 : 16;

		if (n == 0)
			return -E2BIG;
		err = htab__resize(t, n);
		if (err)
			return err;
	}
	for (pos = h & t->mask; t->slots[pos]; pos = (pos + 1) & t->mask)
		;
	t->slots[pos] = ((uint64_t)h << 32) | (idx + 1);
	t->count++;
	return 0;
}

/* The slot holding idx under h, or -1. */
static int64_t htab__slot(const struct htab *t, uint32_t h, uint32_t idx)
{
	uint64_t want = ((uint64_t)h << 32) | ((uint64_t)idx + 1);
	uint32_t pos;

	if (!t->slots || idx >= UINT32_MAX - 1)
		return -1;
	for (pos = h & t->mask; t->slots[pos]; pos = (pos + 1) & t->mask)
		if (t->slots[pos] == want)
			return pos;
	return -1;
}

int htab__delete(struct htab *t, uint32_t h, uint32_t idx)
{
	int64_t found = htab__slot(t, h, idx);
	uint32_t pos, next;

	if (found < 0)
		return -ENOENT;
	/* Every later entry of the run whose home is not between the hole and
	 * itself moves into the hole: probing from its home still meets it
	 * before an empty slot. */
	pos = (uint32_t)found;
	for (next = (pos + 1) & t->mask; t->slots[next]; next = (next + 1) & t->mask) {
		uint32_t home = (uint32_t)(t->slots[next] >> 32) & t->mask;

		if (((next - home) & t->mask) >= ((next - pos) & t->mask)) {
			t->slots[pos] = t->slots[next];
			pos = next;
		}
	}
	t->slots[pos] = 0;
	t->count--;
	return 0;
}

bool htab__next(const struct htab *t, struct htab_iter *it)
{
	for (; t->slots && it->pos <= t->mask; it->pos++) {
		uint64_t s = t->slots[it->pos];

		if (s) {
			it->hash = (uint32_t)(s >> 32);
			it->idx = (uint32_t)s - 1;
			it->pos++;
			return true;
		}
	}
	return false;
}
