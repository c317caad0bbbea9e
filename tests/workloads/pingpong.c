// pingpong: two threads hand one byte back and forth through two pipes,
// so every round trip is two context switches (each thread blocks in read
// until the other writes): the context-switch-heavy load of the off-CPU
// benchmark.
//   pingpong SECONDS     run that long after a 0.2 s warm-up, then print
//                        "round_trips=N seconds=S per_second=R"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int ping[2], pong[2];
static volatile int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *echo(void *arg __attribute__((unused)))
{
	char c;

	pthread_setname_np(pthread_self(), "pong");
	while (read(ping[0], &c, 1) == 1 && c)
		if (write(pong[1], &c, 1) != 1)
			exit(3);
	return NULL;
}

// One round trip: ping, wait for the pong.
static void trip(void)
{
	char c = 1;

	if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
		exit(3);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 3, t0, t1;
	unsigned long n = 0;
	pthread_t t;
	char zero = 0;

	if (seconds <= 0 || pipe(ping) || pipe(pong) || pthread_create(&t, NULL, echo, NULL))
		return 2;
	for (t0 = now() + 0.2; now() < t0;)
		trip();
	t1 = t0 + seconds;
	do {
		for (int i = 0; i < 256; i++)
			trip();
		n += 256;
	} while (now() < t1);
	t1 = now();
	if (write(ping[1], &zero, 1) != 1)
		return 3;
	pthread_join(t, NULL);
	printf("round_trips=%lu seconds=%.3f per_second=%.0f\n", n, t1 - t0, n / (t1 - t0));
	return 0;
}
