/* A line reader: every line of a file descriptor (streamed through one
 * buffer of a fixed size) or of text in memory, handed to a callback. */
#ifndef BPPROF_BASE_LINES_H
#define BPPROF_BASE_LINES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int lines_fn(void *ctx, const char *line, size_t len);

struct lines_stats {
	uint64_t bytes;
	uint64_t too_long;	/* lines longer than the chunk, skipped */
	bool truncated;		/* stopped at max_bytes */
};

/* Calls fn for every line of fd (without its '\n'), reading chunk bytes at a
 * time. Returns 0, a negative errno from read(), or fn's non-zero result. */
int lines__read(int fd, size_t chunk, size_t max_bytes, lines_fn *fn, void *ctx,
		struct lines_stats *st);
/* The same over text already in memory. */
int lines__each(const char *text, size_t len, lines_fn *fn, void *ctx);

#endif
