/* One-line error messages carried back to the command that reports them.
 * Functions still return a negative errno; the text says what and where. */
#ifndef BPPROF_BASE_ERRMSG_H
#define BPPROF_BASE_ERRMSG_H

#define ERRMSG_MAX 256

struct errmsg {
	char text[ERRMSG_MAX];
};

/* Set the message (when e is not NULL) and return err, so callers can write
 * `return errmsg__set(e, -EINVAL, "...")`. */
int errmsg__set(struct errmsg *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
