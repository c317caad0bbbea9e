/* Chunked bump allocator. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

#define ARENA_CHUNK_MIN (256u << 10)
#define ARENA_ALIGN 16u

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct arena {
	struct chunk *head;
	size_t budget, total;
	int over_budget;	/* an allocation was refused for the budget */
};

struct arena *arena__new(size_t budget)
{
	struct arena *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->budget = budget;
	return a;
}

void arena__free(struct arena *a)
{
	struct chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void *arena__alloc(struct arena *a, size_t size)
{
	struct chunk *c = a->head;
	size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	void *p;

	if (need < size || (a->budget && (need > a->budget || a->total > a->budget - need))) {
		a->over_budget = 1;
		errno = E2BIG;
		return NULL;
	}
	if (!c || c->size - c->used < need) {
		size_t csize = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;

		/* Grow chunks with the arena so big decodes make few mallocs. */
		if (c && csize < c->size * 2 && c->size < (64u << 20))
			csize = c->size * 2;
		c = malloc(sizeof(*c) + csize);
		if (!c)
			return NULL;
		c->size = csize;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += need;
	a->total += need;
	return p;
}

void *arena__zalloc(struct arena *a, size_t size)
{
	void *p = arena__alloc(a, size);

	if (p)
		memset(p, 0, size);
	return p;
}

char *arena__strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena__alloc(a, len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

size_t arena__used(const struct arena *a) { return a->total; }
int arena__over_budget(const struct arena *a) { return a->over_budget; }
