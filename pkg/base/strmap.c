/* String interner. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"

#define STRMAP_SEED 0x636f6e76ull

struct strmap_key {
	const void *p;
	size_t len;
};

static bool strmap__eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct strmap *m = ctx;
	const struct strmap_key *k = key;

	return m->items[idx].len == k->len &&
	       (!k->len || memcmp(strmap__key(m, idx), k->p, k->len) == 0);
}

int strmap__init(struct strmap *m, size_t text_limit)
{
	memset(m, 0, sizeof(*m));
	m->text = BUF_INIT(text_limit);
	return htab__init(&m->index, 256);
}

void strmap__free(struct strmap *m)
{
	if (!m)
		return;
	buf__free(&m->text);
	free(m->items);
	htab__free(&m->index);
	m->items = NULL;
	m->n = m->cap = 0;
}

int strmap__intern(struct strmap *m, const void *key, size_t len, size_t *idx)
{
	struct strmap_key k = { key, len };
	uint32_t h = htab__hash(key, len, STRMAP_SEED);
	int64_t found = htab__find(&m->index, h, strmap__eq, m, &k);
	struct strmap_entry *e;
	size_t off = m->text.len;
	int err;

	if (found >= 0) {
		*idx = (size_t)found;
		return 0;
	}
	if (len >= UINT32_MAX)
		return -E2BIG;
	err = BUF_GROW_ARRAY(m->items, m->cap, m->n + 1);
	if (err)
		return err;
	err = buf__reserve(&m->text, len + 1);
	if (err)
		return err;
	if (len)
		memcpy(m->text.data + off, key, len);
	m->text.data[off + len] = '\0';
	err = htab__insert(&m->index, h, (uint32_t)m->n);
	if (err)
		return err;
	m->text.len += len + 1;
	e = &m->items[m->n];
	e->off = off;
	e->len = (uint32_t)len;
	e->val = 0;
	*idx = m->n++;
	return 1;
}
