/* Stack and sample interning over contiguous arrays (design rule 6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stacks/stacks.h"

#define STACK_SEED	0x737461636bull
#define SAMPLE_SEED	0x73616d706cull

struct frames_key {
	const uint64_t *frames;
	size_t n;
};

static bool stack_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct stacks *t = ctx;
	const struct frames_key *k = key;

	return t->stacks[idx].len == k->n &&
	       (!k->n || !memcmp(t->frames + t->stacks[idx].off, k->frames, k->n * sizeof(*k->frames)));
}

/* The identity of a sample is every field but the count; compared field by
 * field, so padding never matters. */
static bool sample_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct stacks_sample *a = &((const struct stacks *)ctx)->samples[idx], *b = key;

	return a->proc == b->proc && a->pid == b->pid && a->tid == b->tid && a->comm == b->comm &&
	       a->thread_comm == b->thread_comm && a->kstack == b->kstack && a->ustack == b->ustack &&
	       a->tag == b->tag;
}

static uint32_t sample_hash(const struct stacks_sample *s)
{
	uint64_t k[5] = {
		(uint64_t)s->proc, (uint64_t)s->pid << 32 | s->tid,
		(uint64_t)s->comm << 32 | s->thread_comm, (uint64_t)s->kstack << 32 | s->ustack,
		s->tag,
	};

	return htab__hash(k, sizeof(k), SAMPLE_SEED);
}

size_t stacks__bytes(const struct stacks *t)
{
	return t->cap_frames * sizeof(*t->frames) + t->cap_stacks * sizeof(*t->stacks) +
	       t->cap_samples * sizeof(*t->samples) +
	       ((size_t)t->stack_index.mask + 1 + t->sample_index.mask + 1) * sizeof(uint64_t) +
	       t->strings.text.cap + t->strings.cap * sizeof(*t->strings.items);
}

/* Bytes the next insert into h adds when it doubles the table. */
static size_t index_growth(const struct htab *h)
{
	return (h->count + 1) * 2 > h->mask + 1 ? ((size_t)h->mask + 1) * sizeof(uint64_t) : 0;
}

/* Would growing an array to need elements (and its index) pass the limit? */
static bool over_limit(const struct stacks *t, size_t cap, size_t need, size_t elem,
		       const struct htab *index)
{
	size_t grow = need > cap ? (need > 2 * cap ? need : cap) * elem : 0;

	return t->limit && stacks__bytes(t) + grow + index_growth(index) > t->limit;
}

int stacks__init(struct stacks *t, size_t limit)
{
	uint32_t empty;
	int err;

	memset(t, 0, sizeof(*t));
	t->limit = limit;
	err = htab__init(&t->stack_index, 1024);
	if (!err)
		err = htab__init(&t->sample_index, 1024);
	if (!err)
		err = strmap__init(&t->strings, 0);
	if (!err)
		err = stacks__intern_stack(t, NULL, 0, &empty);
	if (err)
		stacks__free(t);
	return err;
}

void stacks__free(struct stacks *t)
{
	if (!t)
		return;
	free(t->frames);
	free(t->stacks);
	free(t->samples);
	htab__free(&t->stack_index);
	htab__free(&t->sample_index);
	strmap__free(&t->strings);
	memset(t, 0, sizeof(*t));
}

int stacks__reset(struct stacks *t)
{
	size_t limit = t->limit;

	stacks__free(t);
	return stacks__init(t, limit);
}

int stacks__intern_string(struct stacks *t, const char *s, size_t len, uint32_t *id)
{
	size_t idx;
	int err;

	if (t->limit && stacks__bytes(t) + len + 1 > t->limit)
		return -E2BIG;
	err = strmap__intern(&t->strings, s, len, &idx);
	if (err < 0)
		return err;
	*id = (uint32_t)idx;
	return 0;
}

int stacks__intern_stack(struct stacks *t, const uint64_t *frames, size_t n, uint32_t *id)
{
	struct frames_key k = { frames, n };
	uint32_t h = htab__hash(frames ? (const void *)frames : "", n * sizeof(*frames), STACK_SEED);
	int64_t found = htab__find(&t->stack_index, h, stack_eq, t, &k);
	int err;

	if (found >= 0) {
		*id = (uint32_t)found;
		return 0;
	}
	if (n > STACKS_MAX_FRAMES || t->n_frames + n > UINT32_MAX ||
	    over_limit(t, t->cap_frames, t->n_frames + n + 1, sizeof(*t->frames), &t->stack_index) ||
	    over_limit(t, t->cap_stacks, t->n_stacks + 1, sizeof(*t->stacks), &t->stack_index))
		return -E2BIG;
	err = BUF_GROW_ARRAY(t->frames, t->cap_frames, t->n_frames + n + 1);
	if (!err)
		err = BUF_GROW_ARRAY(t->stacks, t->cap_stacks, t->n_stacks + 1);
	if (!err)
		err = htab__insert(&t->stack_index, h, (uint32_t)t->n_stacks);
	if (err)
		return err;
	if (n)
		memcpy(t->frames + t->n_frames, frames, n * sizeof(*frames));
	t->stacks[t->n_stacks] = (struct stacks_span){ (uint32_t)t->n_frames, (uint32_t)n };
	t->n_frames += n;
	*id = (uint32_t)t->n_stacks++;
	return 0;
}

int stacks__add(struct stacks *t, const struct stacks_sample *key, uint64_t count)
{
	return stacks__add_value(t, key, count, 0);
}

int stacks__add_value(struct stacks *t, const struct stacks_sample *key, uint64_t count,
		      uint64_t value)
{
	uint32_t h = sample_hash(key);
	int64_t found = htab__find(&t->sample_index, h, sample_eq, t, key);
	int err;

	if (found < 0) {
		if (over_limit(t, t->cap_samples, t->n_samples + 1, sizeof(*t->samples),
			       &t->sample_index))
			return -E2BIG;
		err = BUF_GROW_ARRAY(t->samples, t->cap_samples, t->n_samples + 1);
		if (!err)
			err = htab__insert(&t->sample_index, h, (uint32_t)t->n_samples);
		if (err)
			return err;
		found = (int64_t)t->n_samples++;
		t->samples[found] = *key;
		t->samples[found].count = 0;
		t->samples[found].value = 0;
	}
	t->samples[found].count += count;
	t->samples[found].value += value;
	t->total += count;
	t->total_value += value;
	return (int)found;
}
