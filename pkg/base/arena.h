/* Bump allocator: many small objects with one lifetime, freed at once.
 * Pointers stay valid until arena__free. An optional budget bounds the total
 * so hostile input cannot make a decoder allocate without limit. */
#ifndef BPPROF_BASE_ARENA_H
#define BPPROF_BASE_ARENA_H

#include <stddef.h>

struct arena;

/* budget: most bytes ever handed out (0: unlimited). */
struct arena *arena__new(size_t budget);
void arena__free(struct arena *a);
/* 16-byte aligned; NULL with errno E2BIG past the budget, ENOMEM when
 * memory runs out. */
void *arena__alloc(struct arena *a, size_t size);
void *arena__zalloc(struct arena *a, size_t size);
char *arena__strndup(struct arena *a, const char *s, size_t len);
size_t arena__used(const struct arena *a);
/* Non-zero once any allocation was refused for the budget. */
int arena__over_budget(const struct arena *a);

#endif
