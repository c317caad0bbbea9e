// pidreuse: two different processes, one after the other, under the same
// pid, for the PID-reuse test (needs root: CAP_SYS_ADMIN over the pid
// namespace).
//   pidreuse [SECONDS]   default 1
// Child A (comm reuse-a) runs reuse_a_spin for SECONDS and exits; child B
// (comm reuse-b, a fresh exec, so its own address layout) is then started
// under A's pid and runs reuse_b_spin for SECONDS. Prints the reused pid on
// stdout; exits 0 when both children did.
//   pidreuse --a SECONDS | --b SECONDS    the children themselves
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __clang__
#define HOT __attribute__((noinline, used))
#else
#define HOT __attribute__((noinline, noclone, used))
#endif

static volatile unsigned long sink;
static char self[PATH_MAX];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

HOT void reuse_a_spin(double deadline)
{
	do {
		for (unsigned long i = 0; i < 100000; i++)
			sink = sink * 31 + i;
	} while (now() < deadline);
}

HOT void reuse_b_spin(double deadline)
{
	do {
		for (unsigned long i = 0; i < 100000; i++)
			sink = sink * 37 + i;
	} while (now() < deadline);
}

// In a child: run this program again in MODE (the exec gives it a layout of
// its own). Only async-signal-safe calls: the child may come from raw clone3.
static void exec_mode(const char *mode, char *seconds)
{
	char *args[] = { (char *)"pidreuse", (char *)mode, seconds, NULL };

	execv(self, args);
	_exit(127);
}

// A child under pid WANT, running MODE: clone3 with set_tid (race-free,
// Linux 5.5+), else ns_last_pid = WANT-1 under its lock, retried while
// another process takes the pid. Returns the child's pid, or -1.
static pid_t spawn_as(pid_t want, const char *mode, char *seconds)
{
	for (int try = 0; try < 50; try++) {
		pid_t tid = want, pid;
		struct clone_args ca;
		char buf[32];
		int fd, len;

		memset(&ca, 0, sizeof(ca));
		ca.exit_signal = SIGCHLD;
		ca.set_tid = (uintptr_t)&tid;
		ca.set_tid_size = 1;
		pid = syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid == 0)
			exec_mode(mode, seconds);
		if (pid > 0)
			return pid;
		if (errno == EEXIST) { // taken for now: wait for it to go
			usleep(20000);
			continue;
		}
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL) {
			fprintf(stderr, "pidreuse: clone3 with pid %d: %s\n", (int)want, strerror(errno));
			return -1;
		}

		fd = open("/proc/sys/kernel/ns_last_pid", O_RDWR | O_CLOEXEC);
		if (fd < 0 || flock(fd, LOCK_EX) < 0) {
			fprintf(stderr, "pidreuse: /proc/sys/kernel/ns_last_pid: %s\n", strerror(errno));
			return -1;
		}
		len = snprintf(buf, sizeof(buf), "%d", (int)want - 1);
		if (write(fd, buf, len) != len) {
			fprintf(stderr, "pidreuse: writing ns_last_pid: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
		pid = fork();
		if (pid == 0) {
			if (getpid() != want)
				_exit(75);
			exec_mode(mode, seconds);
		}
		close(fd); // drops the lock
		if (pid < 0) {
			perror("pidreuse: fork");
			return -1;
		}
		if (pid == want)
			return pid;
		waitpid(pid, NULL, 0);
		usleep(20000);
	}
	fprintf(stderr, "pidreuse: pid %d stayed taken\n", (int)want);
	return -1;
}

static int parse(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < 0 || *out > 86400 ? -1 : 0;
}

static int wait_ok(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) < 0) {
		perror("pidreuse: waitpid");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "pidreuse: child %s (pid %d) failed: status 0x%x\n", what, (int)pid, status);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = 1;
	char secs[32];
	pid_t a, b;
	ssize_t n;

	if (argc == 3 && (strcmp(argv[1], "--a") == 0 || strcmp(argv[1], "--b") == 0)) {
		int is_a = argv[1][2] == 'a';

		if (parse(argv[2], &seconds))
			goto usage;
		prctl(PR_SET_NAME, is_a ? "reuse-a" : "reuse-b", 0, 0, 0);
		if (is_a)
			reuse_a_spin(now() + seconds);
		else
			reuse_b_spin(now() + seconds);
		return 0;
	}
	if (argc > 2 || (argc == 2 && parse(argv[1], &seconds)))
		goto usage;
	snprintf(secs, sizeof(secs), "%g", seconds);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		perror("pidreuse: /proc/self/exe");
		return 1;
	}
	self[n] = '\0';

	a = fork();
	if (a < 0) {
		perror("pidreuse: fork");
		return 1;
	}
	if (a == 0)
		exec_mode("--a", secs);
	if (wait_ok(a, "a"))
		return 1;
	b = spawn_as(a, "--b", secs);
	if (b < 0)
		return 1;
	if (wait_ok(b, "b"))
		return 1;
	printf("%d\n", (int)b);
	return 0;
usage:
	fprintf(stderr, "usage: pidreuse [SECONDS]\n");
	return 2;
}
