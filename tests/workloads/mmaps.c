// mmaps: anonymous mmap/munmap at known sites, for `record --heap --heap-mmap`.
//   mmaps [-o FILE]
// Writes the exact expected profile of the sites, one line each:
//   SITE alloc_objects alloc_space inuse_objects inuse_space
//   site_mmap_held       mmap(MAP_ANONYMOUS, 1 MiB) x 8, never unmapped
//   site_mmap_unmapped   mmap(MAP_ANONYMOUS, 256 KiB) x 8, each unmapped
//   site_mmap_file       mmap of a file x 4: not an allocation (all zeros)
//   site_big_malloc      malloc(8 MiB) x 2, held: glibc maps it itself; it
//                        must count once, as a malloc, not again as mmap
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SITE __attribute__((noinline))

static volatile char sink;

SITE void *site_mmap_held(size_t n)
{
	return mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

SITE void *site_mmap_unmapped(size_t n)
{
	return mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

SITE void *site_mmap_file(int fd, size_t n)
{
	return mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
}

SITE void *site_big_malloc(size_t n)
{
	return malloc(n);
}

int main(int argc, char **argv)
{
	const char *out = argc > 2 && !strcmp(argv[1], "-o") ? argv[2] : NULL;
	FILE *f = stdout;
	int fd = open("/proc/self/exe", O_RDONLY), i;
	char *p;

	if (fd < 0)
		return 1;
	for (i = 0; i < 8; i++) {
		p = site_mmap_held(1 << 20);
		if (p == MAP_FAILED)
			return 1;
		p[0] = 1;
	}
	for (i = 0; i < 8; i++) {
		p = site_mmap_unmapped(256 << 10);
		if (p == MAP_FAILED)
			return 1;
		p[0] = 1;
		munmap(p, 256 << 10);
	}
	for (i = 0; i < 4; i++) {
		p = site_mmap_file(fd, 4096);
		if (p == MAP_FAILED)
			return 1;
		sink = p[0];
	}
	for (i = 0; i < 2; i++) {
		p = site_big_malloc(8 << 20);
		if (!p)
			return 1;
		p[0] = 1;
	}
	if (out && !(f = fopen(out, "w")))
		return 1;
	fprintf(f, "site_mmap_held 8 %d 8 %d\n", 8 << 20, 8 << 20);
	fprintf(f, "site_mmap_unmapped 8 %d 0 0\n", 8 * (256 << 10));
	fprintf(f, "site_mmap_file 0 0 0 0\n");
	fprintf(f, "site_big_malloc 2 %d 2 %d\n", 16 << 20, 16 << 20);
	return fclose(f) ? 1 : 0;
}
