/* Levelled logging to stderr (or a file put in its place): one sink for
 * bpprof and for libraries that log. */
#ifndef BPPROF_BASE_LOG_H
#define BPPROF_BASE_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log__set_level(enum log_level level);
enum log_level log__level(void);
/* Send stderr to path (appending; lines get UTC timestamps); log__reopen
 * opens it again after logrotate moved it (SIGHUP). 0 or -errno. */
int log__open(const char *path);
int log__reopen(void);
void log__vprintf(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void log__printf(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...)   log__printf(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  log__printf(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  log__printf(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log__printf(LOG_DEBUG, __VA_ARGS__)

#endif
