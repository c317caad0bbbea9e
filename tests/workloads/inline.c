// inline: burns CPU in functions the compiler inlines, for the source-line
// tests; built -O2 -g (the Makefile's own rule), as released code is.
//   inline [SECONDS [libc]]   default 3 s; with "libc", half the time in
//                             glibc's strtod instead
// mix_step() is always_inline into churn(), itself always_inline into
// spin() (noinline): the hot instructions are spin()'s, and their lines
// name mix_step at the line marked HOT, churn at the line marked CALL_STEP
// and spin at the line marked CALL_CHURN. The tests find those lines by
// their markers, not by number.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline __attribute__((always_inline)) unsigned long mix_step(unsigned long x)
{
	return (x ^ (x >> 7)) * 0x9e3779b97f4a7c15UL + 1; // HOT
}

static inline __attribute__((always_inline)) unsigned long churn(unsigned long x, int n)
{
	for (int i = 0; i < n; i++)
		x = mix_step(x); // CALL_STEP
	return x;
}

static volatile unsigned long sink;

__attribute__((noinline)) void publish(unsigned long x)
{
	sink = x;
}

// Not a leaf, so it sets up its frame and main stays its caller in
// frame-pointer stacks.
__attribute__((noinline)) void spin(unsigned long n)
{
	unsigned long x = sink;

	for (unsigned long i = 0; i < n; i++)
		x = churn(x, 64); // CALL_CHURN
	publish(x);
}

static volatile double dsink;

__attribute__((noinline)) void parse(unsigned long n)
{
	static const char *const text[] = { "3.14159265358979", "2.718281828e-10", "1e300",
					    "0.000123456789", "-6.02214076e23" };
	double sum = 0;

	for (unsigned long i = 0; i < n; i++)
		sum += strtod(text[i % 5], NULL);
	dsink = sum;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 3;
	int libc = argc > 2 && !strcmp(argv[2], "libc");
	double end = now() + seconds;

	while (now() < end) {
		spin(2000);
		if (libc)
			parse(2000);
	}
	return 0;
}
