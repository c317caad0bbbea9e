/* Growable byte buffers with a named upper limit (design rule 7). */
#ifndef BPPROF_BASE_BUF_H
#define BPPROF_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t limit;	/* 0: unlimited */
};

#define BUF_INIT(lim) ((struct buf){ .limit = (lim) })

/* Make room for extra more bytes: -E2BIG past the limit, -ENOMEM. */
int buf__reserve(struct buf *b, size_t extra);
int buf__append(struct buf *b, const void *p, size_t n);
int buf__appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf__free(struct buf *b);
/* Hand b's bytes (malloc'd, NULL when it never held any) and their count
 * in *len to the caller, who frees them; b is left empty, its limit kept. */
void *buf__take(struct buf *b, size_t *len);

/* Grow a typed array (*items, *cap) to hold at least need elements.
 * Returns 0 or -ENOMEM; doubles, so appends are amortised O(1). */
int buf__grow_array(void **items, size_t *cap, size_t need, size_t elem_size);
#define BUF_GROW_ARRAY(items, cap, need) \
	buf__grow_array((void **)&(items), &(cap), (need), sizeof(*(items)))

#endif
