/* Unsampling and the live-block table (blocks in one array, freed ones
 * reused, indexed by id in a base/htab). Values are kept as doubles per
 * sample and rounded only when the profile is written, so many small
 * weights do not each lose a fraction. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "heap/heap.h"

struct heap_block {
	uint64_t id;			/* 0: a free block */
	uint64_t size;
	uint32_t sample;		/* of a free block: the next free one + 1, or 0 */
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
	int err;

	memset(h, 0, sizeof(*h));
	h->rate = rate;
	err = htab__init(&h->live, 512);
	if (err)
		return err;
	err = stacks__init(&h->stacks, stacks_limit);
	if (err)
		htab__free(&h->live);
	return err;
}

void heap_table__free(struct heap_table *h)
{
	stacks__free(&h->stacks);
	free(h->vals);
	free(h->blocks);
	htab__free(&h->live);
	memset(h, 0, sizeof(*h));
}

static uint32_t id__hash(uint64_t id)
{
	return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 32);	/* ids are sequential: spread them */
}

static bool block__eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct heap_block *)ctx)[idx].id == *(const uint64_t *)key;
}

int heap_table__alloc(struct heap_table *h, int sample, uint64_t id, uint64_t size, bool tracked)
{
	double w = heap__weight(size, h->rate);
	uint32_t hash = id__hash(id);
	struct heap_values *v;
	int64_t at = -1;
	int err;

	if (sample < 0 || (size_t)sample >= h->stacks.n_samples || !id)
		return -EINVAL;
	err = BUF_GROW_ARRAY(h->vals, h->cap_vals, h->stacks.n_samples);
	if (err)
		return err;
	for (; h->n_vals < h->stacks.n_samples; h->n_vals++)
		memset(&h->vals[h->n_vals], 0, sizeof(h->vals[h->n_vals]));
	if (tracked && h->n_live >= HEAP_MAX_LIVE) {
		tracked = false;
		err = -E2BIG;
	}
	if (tracked) {
		at = htab__find(&h->live, hash, block__eq, h->blocks, &id);
		/* an id twice: the first block's free never comes */
		if (at >= 0) {
			h->vals[h->blocks[at].sample].live--;
		} else {
			/* the block freed last (still warm), else a new one */
			at = h->free ? (int64_t)h->free - 1 : (int64_t)h->n_blocks;
			if (!h->free)
				err = BUF_GROW_ARRAY(h->blocks, h->cap_blocks, h->n_blocks + 1);
			if (!err)
				err = htab__insert(&h->live, hash, (uint32_t)at);
			if (err)
				return err;
			if (h->free)
				h->free = h->blocks[at].sample;
			else
				h->n_blocks++;
			h->n_live++;
		}
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
	v->live++;
	h->blocks[at] = (struct heap_block){ id, size, (uint32_t)sample };
	return 0;
}

int heap_table__freed(struct heap_table *h, uint64_t id)
{
	uint32_t hash = id__hash(id);
	int64_t at = id ? htab__find(&h->live, hash, block__eq, h->blocks, &id) : -1;
	struct heap_block *b;
	struct heap_values *v;
	double w;

	if (at < 0) {
		h->unknown_frees++;
		return -ENOENT;
	}
	b = &h->blocks[at];
	w = heap__weight(b->size, h->rate);
	v = &h->vals[b->sample];
	v->inuse_objects -= w;
	v->inuse_space -= w * (double)b->size;
	/* the last block of a sample leaves exactly nothing, not a rounding rest */
	if (!--v->live) {
		v->inuse_objects = 0;
		v->inuse_space = 0;
	}
	h->frees++;
	htab__delete(&h->live, hash, (uint32_t)at);
	h->n_live--;
	b->id = 0;
	b->sample = h->free;
	h->free = (uint32_t)at + 1;
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
	struct htab_iter it = HTAB_ITER_INIT;
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
	while (htab__next(&h->live, &it))
		h->blocks[it.idx].sample = moved[h->blocks[it.idx].sample];
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
