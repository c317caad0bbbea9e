/* cputime: what a command costs, as the benchmarks compare tools, for
 * tests/bench/record.sh.
 *
 *   cputime -o FILE CMD [ARG...]
 *
 * Runs CMD (its stdout and stderr as given) and writes to FILE, when it
 * exits 0, "CPU_SECONDS MAXRSS_KIB": its user plus system time (its children's
 * included), to the microsecond the kernel keeps, and its peak resident
 * set. GNU time prints CPU time in 10 ms steps, a tenth of what a capture
 * costs. Exit: CMD's status, or 1 with one line when it cannot run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	FILE *out;
	pid_t pid;

	if (argc < 4 || strcmp(argv[1], "-o")) {
		fprintf(stderr, "usage: cputime -o FILE CMD [ARG...]\n");
		return 1;
	}
	out = fopen(argv[2], "we");
	if (!out) {
		fprintf(stderr, "cputime: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	argv += 2;
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "cputime: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "cputime: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "cputime: wait4: %s\n", strerror(errno));
			return 1;
		}
	}
	if (!WIFEXITED(status))
		return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	if (WEXITSTATUS(status))
		return WEXITSTATUS(status);
	fprintf(out, "%.6f %ld\n",
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	       ru.ru_maxrss);
	return fclose(out) ? 1 : 0;
}
