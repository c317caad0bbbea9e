/* Growable buffers and arrays. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

int buf__grow_array(void **items, size_t *cap, size_t need, size_t elem_size)
{
	size_t ncap = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem_size)
			return -ENOMEM;
		ncap *= 2;
	}
	p = realloc(*items, ncap * elem_size);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = ncap;
	return 0;
}

int buf__reserve(struct buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len)
		return -E2BIG;
	if (b->limit && b->len + extra > b->limit)
		return -E2BIG;
	return buf__grow_array((void **)&b->data, &b->cap, b->len + extra, 1);
}

int buf__append(struct buf *b, const void *p, size_t n)
{
	int err = buf__reserve(b, n);

	if (err)
		return err;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf__appendf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	err = buf__reserve(b, (size_t)n + 1);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf__free(struct buf *b)
{
	free(b->data);
	*b = BUF_INIT(b->limit);
}

void *buf__take(struct buf *b, size_t *len)
{
	void *data = b->data;

	*len = b->len;
	*b = BUF_INIT(b->limit);
	return data;
}
