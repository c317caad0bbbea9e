/* libinterpose.so (tests/bench/heap.sh's floor-preload row): the least an
 * LD_PRELOAD heap sampler can cost. Its malloc, free, calloc and realloc
 * only pass the call on to glibc's, as libbpprof-heap.so's fast paths do
 * once their countdown or filter says "not sampled"; the same alignment,
 * the same indirect jump (glibc's exported __libc_* through the GOT, where
 * bpprof's library jumps through the pointers dlsym gave it). */
#include <stdlib.h>

#define FLOOR	__attribute__((visibility("default"), aligned(64)))

void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);

FLOOR void *malloc(size_t size)
{
	return __libc_malloc(size);
}

FLOOR void free(void *p)
{
	__libc_free(p);
}

FLOOR void *calloc(size_t n, size_t size)
{
	return __libc_calloc(n, size);
}

FLOOR void *realloc(void *p, size_t size)
{
	return __libc_realloc(p, size);
}
