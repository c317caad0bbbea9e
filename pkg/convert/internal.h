/* Private to convert/: line splitting and the line
 * classifiers that both the readers and format detection use. */
#ifndef BPPROF_CONVERT_INTERNAL_H
#define BPPROF_CONVERT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/strmap.h"

/* Lines of a text in place: without "\n" or "\r\n", numbered from 1. */
struct text_iter {
	const char *data;
	size_t len, pos, line_no;
};

struct text_line {
	const char *p;
	size_t len;
	size_t no;
	bool complete;		/* ended by a newline (the last one may not be) */
};

static inline bool text__next(struct text_iter *it, struct text_line *l)
{
	const char *start = it->data + it->pos, *nl;
	size_t left = it->len - it->pos;

	if (it->pos >= it->len)
		return false;
	nl = memchr(start, '\n', left);
	l->p = start;
	l->len = nl ? (size_t)(nl - start) : left;
	l->complete = nl != NULL;
	l->no = ++it->line_no;
	it->pos += l->len + (nl != NULL);
	if (l->len && start[l->len - 1] == '\r')
		l->len--;
	return true;
}

static inline bool text__is_space(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool text__is_blank(const char *s, size_t len)
{
	while (len && text__is_space(*s))
		s++, len--;
	return len == 0;
}

/* One sample header of `perf script`: COMM [PID/]TID [CPU] TIME: [PERIOD] [EVENT:] REST */
struct perf_header {
	const char *comm, *event, *rest;
	size_t comm_len, event_len, rest_len;
	int64_t pid, tid;
	uint64_t time_ns, period;
	bool has_pid, has_period;
};

/* 0 or -EBADMSG when s is no sample header. */
int perf_script__parse_header(const char *s, size_t len, struct perf_header *h);
/* Blank-led hex address, then a blank or the end: a call chain line. */
bool perf_script__is_frame(const char *s, size_t len);

#endif
