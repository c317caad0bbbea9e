/* Levelled logging. The level is the one piece of process-wide state: it is
 * what the user asked for with --quiet/--verbose and every module obeys it. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"

static enum log_level log_level = LOG_INFO;

void log__set_level(enum log_level level) { log_level = level; }
enum log_level log__level(void) { return log_level; }

void log__vprintf(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		[LOG_ERROR] = "bpprof: ", [LOG_WARN] = "bpprof: warning: ",
		[LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	size_t n = strlen(fmt);

	if (level > log_level)
		return;
	fputs(prefix[level], stderr);
	vfprintf(stderr, fmt, ap);
	if (n == 0 || fmt[n - 1] != '\n')
		fputc('\n', stderr);
}

void log__printf(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vprintf(level, fmt, ap);
	va_end(ap);
}
