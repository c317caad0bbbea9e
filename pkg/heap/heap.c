/* Unsampling and the live-block table. Values are kept as doubles per
 * sample and rounded only when the profile is written, so many small
 * weights do not each lose a fraction. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "heap/heap.h"

struct heap_slot {
	uint64_t id;			/* 0: empty */
	uint64_t size;
	uint32_t sample;
};

double heap__weight(uint64_t size, uint64_t rate)
{
	if (!rate)
		return 1;
	if (!size)
		return 0;
	return 1.0 / -expm1(-(double)size / (double)rate);
}

int heap_table__init(struct heap_table *h, uint64_t rate, size_t stacks_limit)
{
	memset(h, 0, sizeof(*h));
	h->rate = rate;
	return stacks__init(&h->stacks, stacks_limit);
}

void heap_table__free(struct heap_table *h)
{
	stacks__free(&h->stacks);
	free(h->vals);
	free(h->slots);
	memset(h, 0, sizeof(*h));
}

static uint32_t slot_of(const struct heap_table *h, uint64_t id)
{
	uint64_t x = id * 0x9e3779b97f4a7c15ull;	/* ids are sequential: spread them */

	return (uint32_t)(x >> 32) & h->mask;
}

static int grow(struct heap_table *h)
{
	size_t n = h->slots ? ((size_t)h->mask + 1) * 2 : 1024, i;
	struct heap_slot *old = h->slots;
	uint32_t old_n = h->slots ? h->mask + 1 : 0;

	h->slots = calloc(n, sizeof(*h->slots));
	if (!h->slots) {
		h->slots = old;
		return -ENOMEM;
	}
	h->mask = (uint32_t)(n - 1);
	for (i = 0; i < old_n; i++) {
		uint32_t pos;

		if (!old[i].id)
			continue;
		for (pos = slot_of(h, old[i].id); h->slots[pos].id; pos = (pos + 1) & h->mask)
			;
		h->slots[pos] = old[i];
	}
	free(old);
	return 0;
}

int heap_table__alloc(struct heap_table *h, int sample, uint64_t id, uint64_t size, bool tracked)
{
	double w = heap__weight(size, h->rate);
	struct heap_values *v;
	uint32_t pos;
	int err;

	if (sample < 0 || (size_t)sample >= h->stacks.n_samples || !id)
		return -EINVAL;
	err = VEC_GROW(h->vals, h->cap_vals, h->stacks.n_samples);
	if (err)
		return err;
	for (; h->n_vals < h->stacks.n_samples; h->n_vals++)
		memset(&h->vals[h->n_vals], 0, sizeof(h->vals[h->n_vals]));
	if (tracked && h->n_live >= HEAP_TABLE_MAX_LIVE) {
		tracked = false;
		err = -E2BIG;
	}
	if (tracked && (!h->slots || (h->n_live + 1) * 2 > (size_t)h->mask + 1)) {
		err = grow(h);
		if (err)
			return err;
	}
	v = &h->vals[sample];
	v->alloc_objects += w;
	v->alloc_space += w * (double)size;
	v->inuse_objects += w;
	v->inuse_space += w * (double)size;
	h->allocs++;
	if (!tracked) {
		h->untracked++;
		return err;
	}
	for (pos = slot_of(h, id); h->slots[pos].id && h->slots[pos].id != id;
	     pos = (pos + 1) & h->mask)
		;
	if (h->slots[pos].id)	/* an id twice: the first block's free never comes */
		h->vals[h->slots[pos].sample].live--;
	else
		h->n_live++;
	v->live++;
	h->slots[pos] = (struct heap_slot){ id, size, (uint32_t)sample };
	return 0;
}

int heap_table__freed(struct heap_table *h, uint64_t id)
{
	struct heap_values *v;
	struct heap_slot *s;
	uint32_t pos, next;
	double w;

	if (!h->slots || !id) {
		h->unknown_frees++;
		return -ENOENT;
	}
	for (pos = slot_of(h, id); h->slots[pos].id != id; pos = (pos + 1) & h->mask)
		if (!h->slots[pos].id) {
			h->unknown_frees++;
			return -ENOENT;
		}
	s = &h->slots[pos];
	w = heap__weight(s->size, h->rate);
	v = &h->vals[s->sample];
	v->inuse_objects -= w;
	v->inuse_space -= w * (double)s->size;
	/* the last block of a sample leaves exactly nothing, not a rounding rest */
	if (!--v->live) {
		v->inuse_objects = 0;
		v->inuse_space = 0;
	}
	h->frees++;
	h->n_live--;
	/* Backward-shift deletion: later entries of the probe run move up, so
	 * lookups never need tombstones. */
	for (next = (pos + 1) & h->mask; h->slots[next].id; next = (next + 1) & h->mask) {
		uint32_t home = slot_of(h, h->slots[next].id);

		if (((next - home) & h->mask) >= ((next - pos) & h->mask)) {
			h->slots[pos] = h->slots[next];
			pos = next;
		}
	}
	h->slots[pos].id = 0;
	return 0;
}

static bool holds(const struct heap_values *v)
{
	return v->live || v->inuse_objects != 0 || v->inuse_space != 0;
}

/* Rebuild the table with only the samples that hold memory; the live
 * blocks follow their samples to the new indexes. */
static int compact(struct heap_table *h, size_t keep)
{
	const struct stacks *old = &h->stacks;
	struct heap_values *vals = calloc(keep ? keep : 1, sizeof(*vals));
	uint32_t *moved = calloc(h->n_vals ? h->n_vals : 1, sizeof(*moved));
	struct stacks t;
	size_t i, n;
	int err = -ENOMEM;

	if (!vals || !moved || stacks__init(&t, old->limit))
		goto free_arrays;
	for (i = 0; i < h->n_vals; i++) {
		const struct stacks_sample *s = &old->samples[i];
		struct stacks_sample key = *s;
		const uint64_t *frames;
		const char *str;
		int idx;

		if (!holds(&h->vals[i]))
			continue;
		frames = stacks__frames(old, s->kstack, &n);
		err = stacks__intern_stack(&t, frames, n, &key.kstack);
		frames = stacks__frames(old, s->ustack, &n);
		if (!err)
			err = stacks__intern_stack(&t, frames, n, &key.ustack);
		str = stacks__string(old, s->comm);
		if (!err)
			err = stacks__intern_string(&t, str, strlen(str), &key.comm);
		str = stacks__string(old, s->thread_comm);
		if (!err)
			err = stacks__intern_string(&t, str, strlen(str), &key.thread_comm);
		idx = err ? err : stacks__add(&t, &key, s->count);
		if (idx < 0) {
			err = idx;
			goto free_table;
		}
		moved[i] = (uint32_t)idx;
		vals[idx] = h->vals[i];
	}
	for (i = 0; h->slots && i <= h->mask; i++)
		if (h->slots[i].id)
			h->slots[i].sample = moved[h->slots[i].sample];
	stacks__free(&h->stacks);
	h->stacks = t;
	free(h->vals);
	h->vals = vals;
	h->n_vals = h->cap_vals = keep;
	free(moved);
	return 0;

free_table:
	stacks__free(&t);
free_arrays:
	free(vals);
	free(moved);
	return err;
}

int heap_table__next_window(struct heap_table *h)
{
	size_t i, keep = 0;

	for (i = 0; i < h->n_vals; i++) {
		h->vals[i].alloc_objects = 0;
		h->vals[i].alloc_space = 0;
		keep += holds(&h->vals[i]);
	}
	if (h->stacks.n_samples - keep <= keep + 1024)
		return 0;
	return compact(h, keep);
}
