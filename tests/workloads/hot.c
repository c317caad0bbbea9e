// hot: burns CPU in known functions at a known ratio, for the record tests.
//   hot [SECONDS [THREADS]]   default 3 s, no extra threads; prints nothing
// hot_three() gets 3 work units for every 1 that hot_one() gets, through
// distinct callers (main -> loop_a -> hot_three, main -> loop_b -> hot_one),
// so a profile must show flat(hot_three) / flat(hot_one) ~= 3. THREADS extra
// threads named worker-1..N run the same loop (worker_main -> loop_a ...).
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// noclone keeps gcc from renaming a function (hot_one.constprop.0) that the
// tests look up by name.
#ifdef __clang__
#define HOT __attribute__((noinline, used))
#else
#define HOT __attribute__((noinline, noclone, used))
#endif

// One unit is ~20 us: slices far shorter than a sampling period at any
// tested rate, so the ratio comes from the work split, not from the clock.
#define UNIT 20000UL

static volatile unsigned long sink_one, sink_three;
static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

// The same instructions in both, so a unit costs the same on any CPU (with
// different multipliers gcc picked shl/sub for one and two LEAs for the
// other, and the ratio came out 5:1 on an Intel Xeon); each writes its own
// sink, so the two are never folded into one function. The accumulator
// lives on the stack: gcc sets up no frame pointer in a leaf function
// without a stack frame, and a walk from such a leaf skips its caller
// (loop_a).
HOT void hot_one(void)
{
	volatile unsigned long acc = sink_one;

	for (unsigned long i = 0; i < 1 * UNIT; i++)
		acc = acc * 31 + i;
	sink_one = acc;
}

HOT void hot_three(void)
{
	volatile unsigned long acc = sink_three;

	for (unsigned long i = 0; i < 3 * UNIT; i++)
		acc = acc * 31 + i;
	sink_three = acc;
}

HOT void loop_a(void)
{
	hot_three();
}

HOT void loop_b(void)
{
	hot_one();
}

// Work slices until the deadline; the clock is read once per 16 slices.
// Inlined: its frame between main (or worker_main) and loop_a and loop_b
// is an inline frame, there only with source lines (--no-lines: none).
static inline __attribute__((always_inline)) void spin(void)
{
	for (;;) {
		for (int i = 0; i < 16; i++) {
			loop_a();
			loop_b();
		}
		if (now() >= deadline)
			return;
	}
}

// Names itself first, so nearly all its samples carry the name.
HOT void *worker_main(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "worker-%d", (int)(long)arg);
	pthread_setname_np(pthread_self(), name);
	spin();
	return NULL;
}

static int parse(const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < lo || *out > hi ? -1 : 0;
}

int main(int argc, char **argv)
{
	double seconds = 3, threads = 0;
	pthread_t tids[64];
	int n, err;

	if (argc > 3 || (argc > 1 && parse(argv[1], 0, 86400, &seconds)) ||
	    (argc > 2 && parse(argv[2], 0, 64, &threads))) {
		fprintf(stderr, "usage: hot [SECONDS [THREADS (0..64)]]\n");
		return 2;
	}
	n = (int)threads;
	deadline = now() + seconds;
	for (int i = 0; i < n; i++) {
		err = pthread_create(&tids[i], NULL, worker_main, (void *)(long)(i + 1));
		if (err) {
			fprintf(stderr, "hot: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	spin();
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	return 0;
}
