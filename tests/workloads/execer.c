// execer: burns CPU, then exec()s mid-run under the same pid, for the
// exec-mid-capture test: both phases must be symbolized with their own
// binary's functions.
//   execer [SECONDS]                   before_exec_spin for SECONDS (default
//                                      1.5), then exec itself as
//                                      `execer --after SECONDS`
//   execer --after SECONDS             after_exec_spin for SECONDS
//   execer SECONDS PROGRAM [ARGS...]   before_exec_spin, then exec PROGRAM
// Prints nothing.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __clang__
#define HOT __attribute__((noinline, used))
#else
#define HOT __attribute__((noinline, noclone, used))
#endif

static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

HOT void before_exec_spin(double deadline)
{
	do {
		for (unsigned long i = 0; i < 100000; i++)
			sink = sink * 31 + i;
	} while (now() < deadline);
}

HOT void after_exec_spin(double deadline)
{
	do {
		for (unsigned long i = 0; i < 100000; i++)
			sink = sink * 37 + i;
	} while (now() < deadline);
}

static int parse(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < 0 || *out > 86400 ? -1 : 0;
}

int main(int argc, char **argv)
{
	double seconds = 1.5;
	char self[PATH_MAX];
	ssize_t n;

	if (argc == 3 && strcmp(argv[1], "--after") == 0) {
		if (parse(argv[2], &seconds))
			goto usage;
		after_exec_spin(now() + seconds);
		return 0;
	}
	if (argc > 1 && parse(argv[1], &seconds))
		goto usage;
	before_exec_spin(now() + seconds);
	if (argc > 2) {
		execv(argv[2], argv + 2);
		fprintf(stderr, "execer: %s: %s\n", argv[2], strerror(errno));
		return 127;
	}
	// The real path, not /proc/self/exe, whose name would become the comm.
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		perror("execer: /proc/self/exe");
		return 1;
	}
	self[n] = '\0';
	{
		char secs[32];
		char *args[] = { (char *)"execer", (char *)"--after", secs, NULL };

		snprintf(secs, sizeof(secs), "%g", seconds);
		execv(self, args);
	}
	fprintf(stderr, "execer: %s: %s\n", self, strerror(errno));
	return 127;
usage:
	fprintf(stderr, "usage: execer [SECONDS [PROGRAM ARGS...]] | execer --after SECONDS\n");
	return 2;
}
