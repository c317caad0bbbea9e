/* The aggregation table of a capture window: identical samples (process
 * snapshot, pid, tid, names, tag, kernel stack, user stack) add up to one
 * entry, summing a count and a value.
 * Stacks and names are interned once, so the table holds each distinct
 * stack a single time however many samples share it. */
#ifndef BPPROF_STACKS_STACKS_H
#define BPPROF_STACKS_STACKS_H
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/htab.h"
#include "base/strmap.h"

#define STACKS_MAX_FRAMES	1024u	/* deepest stack kept */

struct stacks_sample {
	int64_t proc;			/* symbolizer snapshot id */
	uint32_t pid, tid;
	uint32_t comm, thread_comm;	/* stacks__intern_string ids */
	uint32_t kstack, ustack;	/* stacks__intern_stack ids; 0 is the empty stack */
	uint32_t tag;			/* kept apart like the rest (off-CPU: the thread
					 * state + 1; 0: a CPU or heap sample) */
	uint64_t count;
	uint64_t value;			/* a second sum (off-CPU: nanoseconds) */
};

struct stacks_span {
	uint32_t off, len;		/* frames[off .. off+len) */
};

struct stacks {
	size_t limit;			/* bytes of all tables together (0: unlimited) */
	uint64_t *frames;		/* every distinct stack's frames, leaf first */
	size_t n_frames, cap_frames;
	struct stacks_span *stacks;	/* [0] is the empty stack */
	size_t n_stacks, cap_stacks;
	struct htab stack_index;
	struct stacks_sample *samples;
	size_t n_samples, cap_samples;
	struct htab sample_index;
	struct strmap strings;
	uint64_t total;			/* sum of all counts */
	uint64_t total_value;		/* sum of all values */
};

int stacks__init(struct stacks *t, size_t limit);
void stacks__free(struct stacks *t);
/* Forget every sample, keep nothing: the next window starts empty. */
int stacks__reset(struct stacks *t);

/* 0 and the id, -E2BIG past the limit (or a stack deeper than
 * STACKS_MAX_FRAMES), -ENOMEM. */
int stacks__intern_string(struct stacks *t, const char *s, size_t len, uint32_t *id);
int stacks__intern_stack(struct stacks *t, const uint64_t *frames, size_t n, uint32_t *id);
/* Add count to the sample with key's identity (key->count and key->value
 * are ignored): its index in samples, or negative errno. */
int stacks__add(struct stacks *t, const struct stacks_sample *key, uint64_t count);
/* The same, adding value to its value too. */
int stacks__add_value(struct stacks *t, const struct stacks_sample *key, uint64_t count,
		      uint64_t value);

size_t stacks__bytes(const struct stacks *t);

static inline const uint64_t *stacks__frames(const struct stacks *t, uint32_t id, size_t *n)
{
	*n = t->stacks[id].len;
	return t->frames + t->stacks[id].off;
}

static inline const char *stacks__string(const struct stacks *t, uint32_t id)
{
	return strmap__key(&t->strings, id);
}

#endif
