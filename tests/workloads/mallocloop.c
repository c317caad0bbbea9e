// mallocloop: a malloc-heavy loop, for the heap-profiling benchmark
// (tests/bench/heap.sh): what a uprobe on malloc/free costs per call.
//   mallocloop ITERATIONS SIZE [MODE]
// MODE (default "malloc"): each iteration does
//   malloc   p = malloc(SIZE); touch a byte; free(p)
//   calloc   p = calloc(1, SIZE); touch; free(p)
//   realloc  p = malloc(SIZE); p = realloc(p, 2 * SIZE); touch; free(p)
//   range    p = malloc(one of 256 sizes from SIZE to 5 * SIZE, in turn);
//            touch; free(p) (64: 64-320 bytes, several glibc size classes)
// all through the dynamic glibc (never inlined or elided: the pointer escapes
// through a volatile). Only the loop is timed, with CLOCK_MONOTONIC, so a
// tracer's startup and attach are not counted. Prints one line on stdout:
//   ns_per_iter 123.4 iterations N size S mode M bytes B
// B: the bytes all its allocations asked for, warm-up included (what a
// sampling profiler counts down).
// and nothing else.
//   mallocloop ITERATIONS SIZE malloc|range paired
// runs the loop in chunks of 100,000 iterations, alternately as above and
// through glibc's own entry points (__libc_malloc, __libc_free: no
// LD_PRELOAD wrapper replaces them), the order swapped every pair: what a
// wrapper costs, measured against the bare calls in the same process at
// nearly the same moment, so a host whose speed drifts from second to
// second moves both alike. Prints
//   paired_ratio R ns_per_iter W libc_ns_per_iter L chunks K bytes B
// R: the median of the chunk pairs' ratios; W, L: the medians of the two
// kinds of chunk; B counts the wrapped chunks' bytes only.
// A short warm-up (1/100 of the iterations, at most
// 10000) runs first, untimed, so the first page faults of the arena and the
// lazy binding of malloc/free are not in the figure.
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline, used))
#else
#define NOINLINE __attribute__((noinline, noclone, used))
#endif

enum mode { MODE_MALLOC, MODE_CALLOC, MODE_REALLOC, MODE_RANGE };

static char *volatile sink;
static size_t sizes[256];	// MODE_RANGE's, in turn
static unsigned long long bytes;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// The measured loop, a function of its own so it shows by name in a profile.
NOINLINE void malloc_loop(unsigned long n, size_t size, enum mode mode)
{
	for (unsigned long i = 0; i < n; i++) {
		char *p;

		switch (mode) {
		case MODE_CALLOC:
			p = calloc(1, size);
			break;
		case MODE_REALLOC:
			p = malloc(size);
			if (p)
				p = realloc(p, 2 * size);
			break;
		case MODE_RANGE:
			p = malloc(sizes[i & 255]);
			break;
		default:
			p = malloc(size);
			break;
		}
		if (!p) {
			fprintf(stderr, "mallocloop: out of memory at iteration %lu\n", i);
			exit(1);
		}
		p[i % size] = (char)i;
		sink = p;
		free(sink);
	}
}

// The same loop through glibc's own entry points: malloc and range only.
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

NOINLINE void libc_loop(unsigned long n, size_t size, enum mode mode)
{
	for (unsigned long i = 0; i < n; i++) {
		char *p = __libc_malloc(mode == MODE_RANGE ? sizes[i & 255] : size);

		if (!p) {
			fprintf(stderr, "mallocloop: out of memory at iteration %lu\n", i);
			exit(1);
		}
		p[i % size] = (char)i;
		sink = p;
		__libc_free(sink);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned long n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define CHUNK	100000UL

// The chunk pairs a paired run of n iterations makes.
static unsigned long chunks(unsigned long n)
{
	return n / CHUNK ? n / CHUNK : 1;
}

// The bytes iterations [0, count) of the loop ask for (realloc: the malloc
// and the realloc to twice its size).
static unsigned long long asked(unsigned long count, size_t size, enum mode mode)
{
	unsigned long long b = 0;

	for (unsigned long i = 0; i < count; i++)
		b += mode == MODE_RANGE ? sizes[i & 255] : mode == MODE_REALLOC ? 3 * size : size;
	return b;
}

// Chunks of the wrapped and the direct loop, alternately (see the top).
static int paired(unsigned long n, size_t size, enum mode mode)
{
	unsigned long k = chunks(n), i;
	double *ratio = calloc(3 * k, sizeof(double)), *w = ratio + k, *l = w + k;

	if (!ratio) {
		fprintf(stderr, "mallocloop: out of memory\n");
		return 1;
	}
	for (i = 0; i < k; i++) {
		double t0, t1, t2;

		t0 = now_ns();
		if (i % 2)
			libc_loop(CHUNK, size, mode);
		else
			malloc_loop(CHUNK, size, mode);
		t1 = now_ns();
		if (i % 2)
			malloc_loop(CHUNK, size, mode);
		else
			libc_loop(CHUNK, size, mode);
		t2 = now_ns();
		w[i] = (i % 2 ? t2 - t1 : t1 - t0) / CHUNK;
		l[i] = (i % 2 ? t1 - t0 : t2 - t1) / CHUNK;
		ratio[i] = w[i] / l[i];
	}
	printf("paired_ratio %.4f ns_per_iter %.2f libc_ns_per_iter %.2f chunks %lu bytes %llu\n",
	       median(ratio, k), median(w, k), median(l, k), k, bytes);
	free(ratio);
	return 0;
}

static int parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

int main(int argc, char **argv)
{
	unsigned long n, size, warm;
	enum mode mode = MODE_MALLOC;
	const char *mname = "malloc";
	bool pairs = argc == 5 && strcmp(argv[4], "paired") == 0;
	double t0, t1;

	if (argc < 3 || argc > 5 || (argc == 5 && !pairs) || !parse_ulong(argv[1], &n) ||
	    !parse_ulong(argv[2], &size) || n == 0 || size == 0) {
		fprintf(stderr, "usage: mallocloop ITERATIONS SIZE [malloc|calloc|realloc|range] "
			"| ITERATIONS SIZE malloc|range paired\n");
		return 2;
	}
	if (argc >= 4) {
		mname = argv[3];
		if (strcmp(mname, "calloc") == 0) {
			mode = MODE_CALLOC;
		} else if (strcmp(mname, "realloc") == 0) {
			mode = MODE_REALLOC;
		} else if (strcmp(mname, "range") == 0) {
			mode = MODE_RANGE;
		} else if (strcmp(mname, "malloc") != 0) {
			fprintf(stderr, "mallocloop: unknown mode %s\n", mname);
			return 2;
		}
		if (pairs && mode != MODE_MALLOC && mode != MODE_RANGE) {
			fprintf(stderr, "mallocloop: paired runs malloc or range, not %s\n", mname);
			return 2;
		}
	}
	for (unsigned k = 0; k < 256; k++)
		sizes[k] = size + k * 4 * size / 255;
	warm = n / 100 < 10000 ? n / 100 : 10000;
	warm = warm ? warm : 1;
	// the warm-up, then the timed loop (paired: the wrapped chunks, each
	// counting its sizes from index 0)
	bytes = asked(warm, size, mode) +
		(pairs ? asked(CHUNK, size, mode) * chunks(n) : asked(n, size, mode));
	malloc_loop(warm, size, mode);
	if (pairs) {
		libc_loop(warm, size, mode);
		return paired(n, size, mode);
	}

	t0 = now_ns();
	malloc_loop(n, size, mode);
	t1 = now_ns();
	printf("ns_per_iter %.1f iterations %lu size %lu mode %s bytes %llu\n", (t1 - t0) / n, n, size,
	       mname, bytes);
	return 0;
}
