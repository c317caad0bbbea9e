// A program profiled by gperftools itself, for the legacy readers: a known
// hot function (bpprof::hot_loop) under CPUPROFILE, known allocations under
// HEAPPROFILE, and tcmalloc's own sampled heap (heap_v2) and growth stacks
// written to the files argv names.
//   gperf HEAP_SAMPLE_FILE GROWTH_FILE [SECONDS]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <gperftools/malloc_extension.h>

#define KEEP_BLOCKS 64		/* held to the end: what in-use shows */
#define KEEP_SIZE (256 << 10)
#define CHURN_BLOCKS 20000	/* allocated and freed: what alloc adds */
#define CHURN_SIZE 1024

namespace bpprof {

// Busy until the clock says so: nothing the compiler can fold away.
__attribute__((noinline)) unsigned long hot_loop(double seconds)
{
	struct timespec t0, t;
	unsigned long x = 1, i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (i = 0; i < 1000000; i++) {
			x = x * 6364136223846793005ul + 1442695040888963407ul;
			__asm__ volatile("" : "+r"(x));
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
	return x;
}

__attribute__((noinline)) void *keep_block(size_t n)
{
	void *p = malloc(n);

	memset(p, 1, n);
	return p;
}

__attribute__((noinline)) void churn(size_t n)
{
	void *p = malloc(n);

	memset(p, 2, n);
	free(p);
}

}  // namespace bpprof

static int write_file(const char *path, const std::string &s)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(s.data(), 1, s.size(), f) != s.size() || fclose(f)) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static void *keep[KEEP_BLOCKS];
	std::string sample, growth;
	double seconds = argc > 3 ? strtod(argv[3], NULL) : 0.5;
	unsigned long x;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: gperf HEAP_SAMPLE_FILE GROWTH_FILE [SECONDS]\n");
		return 2;
	}
	x = bpprof::hot_loop(seconds);
	for (i = 0; i < KEEP_BLOCKS; i++)
		keep[i] = bpprof::keep_block(KEEP_SIZE);
	for (i = 0; i < CHURN_BLOCKS; i++)
		bpprof::churn(CHURN_SIZE);
	MallocExtension::instance()->GetHeapSample(&sample);
	MallocExtension::instance()->GetHeapGrowthStacks(&growth);
	printf("%lu %p\n", x, keep[KEEP_BLOCKS - 1]);
	return write_file(argv[1], sample) || write_file(argv[2], growth);
}
