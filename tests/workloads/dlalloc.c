// dlalloc: loads an allocator library with dlopen after it has started and
// allocates through it, so a heap capture must probe objects that arrive
// mid-run (the dynamic linker's hook), before their first call.
//   dlalloc LIB -o FILE     LIB: e.g. libjemalloc.so.2; FILE: alloc's table
// Sites: site_libc_held (glibc's malloc, before the dlopen) and
// site_dl_held, site_dl_freed (LIB's malloc and free, found with dlsym).
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N	64
#define SIZE	4096

void *held[2 * N];	// not static: gcc drops a malloc whose block nobody can read

__attribute__((noinline)) static void site_libc_held(int i)
{
	held[i] = malloc(SIZE);
}

__attribute__((noinline)) static void site_dl_held(void *(*m)(size_t), int i)
{
	held[N + i] = m(2 * SIZE);
}

__attribute__((noinline)) static void site_dl_freed(void *(*m)(size_t), void (*f)(void *))
{
	void *p = m(3 * SIZE);

	if (p)
		memset(p, 1, 1);
	f(p);
}

int main(int argc, char **argv)
{
	void *(*m)(size_t);
	void (*f)(void *);
	FILE *out;
	void *h;
	int i;

	if (argc != 4 || strcmp(argv[2], "-o")) {
		fprintf(stderr, "usage: dlalloc LIB -o FILE\n");
		return 2;
	}
	for (i = 0; i < N; i++)
		site_libc_held(i);
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	m = h ? (void *(*)(size_t))dlsym(h, "malloc") : NULL;
	f = h ? (void (*)(void *))dlsym(h, "free") : NULL;
	if (!m || !f) {
		fprintf(stderr, "dlalloc: %s: %s\n", argv[1], dlerror());
		return 1;
	}
	for (i = 0; i < N; i++) {
		site_dl_held(m, i);
		site_dl_freed(m, f);
	}
	out = fopen(argv[3], "w");
	if (!out)
		return 1;
	fprintf(out, "# site alloc_objects alloc_space inuse_objects inuse_space\n");
	fprintf(out, "site_libc_held %d %d %d %d\n", N, N * SIZE, N, N * SIZE);
	fprintf(out, "site_dl_held %d %d %d %d\n", N, N * 2 * SIZE, N, N * 2 * SIZE);
	fprintf(out, "site_dl_freed %d %d 0 0\n", N, N * 3 * SIZE);
	return fclose(out) ? 1 : 0;
}
