/* A line reader that streams a file through one fixed buffer, so a huge
 * or endless file (kallsyms, a process's maps) costs one chunk of memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/lines.h"

int lines__read(int fd, size_t chunk, size_t max_bytes, lines_fn *fn, void *ctx,
		struct lines_stats *st)
{
	struct lines_stats local;
	char *buf = malloc(chunk);
	size_t have = 0;	/* bytes of an unfinished line at buf[0] */
	bool skipping = false;	/* inside a line longer than the buffer */
	int ret = 0;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t want = chunk - have;
		char *p = buf, *end, *nl;
		ssize_t n;

		if (max_bytes && st->bytes >= max_bytes) {
			st->truncated = true;
			have = 0;	/* a line cut by the limit is not a line */
			break;
		}
		if (max_bytes && want > max_bytes - st->bytes)
			want = max_bytes - st->bytes;
		n = read(fd, buf + have, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		st->bytes += (size_t)n;
		end = buf + have + n;
		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			if (skipping)
				skipping = false;
			else if ((ret = fn(ctx, p, (size_t)(nl - p))))
				goto out_free;
			p = nl + 1;
		}
		have = (size_t)(end - p);
		if (skipping) {
			have = 0;
		} else if (have == chunk) {
			st->too_long++;
			skipping = true;
			have = 0;
		} else if (p != buf) {
			memmove(buf, p, have);
		}
	}
	if (have && !skipping)
		ret = fn(ctx, buf, have);
out_free:
	free(buf);
	return ret;
}

int lines__each(const char *text, size_t len, lines_fn *fn, void *ctx)
{
	const char *p = text, *end = text + len, *nl;
	int ret;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		ret = fn(ctx, p, (size_t)(nl - p));
		if (ret)
			return ret;
		p = nl + 1;
	}
	return 0;
}
