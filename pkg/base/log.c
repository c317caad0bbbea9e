/* Levelled logging. The level and the log file are the process-wide state:
 * what the user asked for with --quiet/--verbose/--log-file, obeyed by every
 * module and thread. Each line is formatted whole and written with one
 * write(2), so lines from the daemon's threads never interleave. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define LOG_LINE_MAX 1024

static enum log_level log_level = LOG_INFO;
static const char *log_path;	/* NULL: stderr as inherited */

void log__set_level(enum log_level level) { log_level = level; }
enum log_level log__level(void) { return log_level; }

int log__open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	if (fd != STDERR_FILENO) {
		if (dup2(fd, STDERR_FILENO) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		close(fd);
	}
	log_path = path;
	return 0;
}

int log__reopen(void)
{
	return log_path ? log__open(log_path) : 0;
}

void log__vprintf(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		[LOG_ERROR] = "bpprof: ", [LOG_WARN] = "bpprof: warning: ",
		[LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	char line[LOG_LINE_MAX];
	size_t n = 0;
	int k;

	if (level > log_level)
		return;
	/* A file has no journal to stamp its lines. */
	if (log_path) {
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		k = snprintf(line + n, sizeof(line) - n, ".%03ldZ ", now.tv_nsec / 1000000);
		n += k > 0 ? (size_t)k : 0;
	}
	k = snprintf(line + n, sizeof(line) - n, "%s", prefix[level]);
	n += k > 0 ? (size_t)k : 0;
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = k < 0 ? n : n + (size_t)k >= sizeof(line) - 1 ? sizeof(line) - 2 : n + (size_t)k;
	if (n == 0 || line[n - 1] != '\n')
		line[n++] = '\n';
	fflush(stderr);		/* stdio users of stderr (progress) come first */
	while (n) {
		ssize_t w = write(STDERR_FILENO, line, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		memmove(line, line + w, n - (size_t)w);
		n -= (size_t)w;
	}
}

void log__printf(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vprintf(level, fmt, ap);
	va_end(ap);
}
