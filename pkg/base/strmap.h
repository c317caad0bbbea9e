/* String interner: byte strings, copied and NUL-terminated into one
 * contiguous text buffer, each to a 64-bit value, in first-seen order. */
#ifndef BPPROF_BASE_STRMAP_H
#define BPPROF_BASE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/htab.h"

struct strmap_entry {
	size_t off;		/* key in text, followed by a NUL */
	uint32_t len;
	int64_t val;
};

struct strmap {
	struct buf text;
	struct strmap_entry *items;
	size_t n, cap;
	struct htab index;
};

/* text_limit bounds the bytes of all keys together (0: unlimited). */
int strmap__init(struct strmap *m, size_t text_limit);
void strmap__free(struct strmap *m);
/* Find key or add it with val 0; *idx is its entry. Returns 1 when added,
 * 0 when found, -E2BIG past the limit, -ENOMEM. */
int strmap__intern(struct strmap *m, const void *key, size_t len, size_t *idx);

static inline const char *strmap__key(const struct strmap *m, size_t idx)
{
	return (const char *)m->text.data + m->items[idx].off;
}

#endif
