/* The heap profile of a capture: sampled allocations aggregated by stack
 * (through the stacks table, which interns stacks and names), unsampled
 * into estimates of the true totals, and the live blocks, so a free takes
 * its block's share back out of "in use". */
#ifndef BPPROF_HEAP_HEAP_H
#define BPPROF_HEAP_HEAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/htab.h"
#include "stacks/stacks.h"

/* Sampled blocks tracked at once: bounds the table here and the BPF side's
 * map of live blocks (--heap-live), which feeds it. */
#define HEAP_MAX_LIVE		(1u << 26)

/* Estimates for one sample (stack and labels), in objects and bytes. */
struct heap_values {
	double alloc_objects, alloc_space;
	double inuse_objects, inuse_space;
	uint64_t live;			/* tracked blocks not freed */
};

struct heap_block;

struct heap_table {
	uint64_t rate;			/* mean bytes between samples; 0: every allocation */
	struct stacks stacks;		/* samples; count = sampled allocations */
	struct heap_values *vals;	/* parallel to stacks.samples */
	size_t n_vals, cap_vals;
	struct heap_block *blocks;	/* live and free blocks */
	size_t n_blocks, cap_blocks;
	uint32_t free;			/* first free block + 1, or 0 */
	struct htab live;		/* live blocks by id */
	size_t n_live;
	uint64_t allocs;		/* sampled allocations taken in */
	uint64_t frees;			/* of those, freed */
	uint64_t untracked;		/* taken in without a live entry: frees unseen */
	uint64_t unknown_frees;		/* frees of ids never seen (their record was lost) */
};

/* How many allocations one sampled allocation of size bytes stands for:
 * 1/(1 − e^(−size/rate)), the inverse of its chance to be sampled; 1 when
 * every allocation is recorded, 0 for size 0 (as Go scales). */
double heap__weight(uint64_t size, uint64_t rate);

int heap_table__init(struct heap_table *h, uint64_t rate, size_t stacks_limit);
void heap_table__free(struct heap_table *h);

/* A sampled allocation, counted in sample (an index stacks__add returned).
 * tracked: its free will be reported under id. 0, -E2BIG past the live
 * limit (counted as untracked), -ENOMEM. */
int heap_table__alloc(struct heap_table *h, int sample, uint64_t id, uint64_t size, bool tracked);
/* The block id was freed: 0, or -ENOENT when it is not live here. */
int heap_table__freed(struct heap_table *h, uint64_t id);
/* The next capture window: allocations count from zero again, what is in
 * use stays. Samples with nothing in use are dropped once they outnumber
 * the others, so a long run holds what is live, not every stack it saw.
 * Sample indexes change then. 0 or -ENOMEM (the table is unchanged). */
int heap_table__next_window(struct heap_table *h);

#endif
