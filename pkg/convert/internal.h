/* Private to convert/: line splitting, the line classifiers that both the
 * readers and format detection use, and the loss tallies and warnings the
 * text readers share. */
#ifndef BPPROF_CONVERT_INTERNAL_H
#define BPPROF_CONVERT_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/log.h"
#include "base/strmap.h"
#include "convert/convert.h"

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

static inline void text__trim(const char **s, size_t *len)
{
	while (*len && text__is_space(**s))
		(*s)++, (*len)--;
	while (*len && text__is_space((*s)[*len - 1]))
		(*len)--;
}

/* The builder reports failure as 0 or NULL with errno set. */
static inline int convert__builder_err(void)
{
	return errno ? -errno : -ENOMEM;
}

/* How many input lines lost something, and the first of them: what a
 * warning needs so that the user can find the cause (design rule 5). */
struct tally {
	size_t n, first;
};

static inline void tally__add(struct tally *t, size_t line_no)
{
	if (t->n++ == 0)
		t->first = line_no;
}

/* Stacks cut to their leaf end: the same words from every reader. */
static inline void tally__warn_deep(const struct tally *t, const char *reader)
{
	if (t->n)
		pr_warn("%s: stacks deeper than %u frames cut to their leaf-most %u: %zu, the first "
			"at line %zu", reader, CONVERT_MAX_FRAMES, CONVERT_MAX_FRAMES, t->n, t->first);
}

/* folded__read with strict: every line a stack, a '#' comment, a count of
 * 0 or profile's WARNING line (detected input); else lines that are none of
 * these are skipped, unless they are most lines. */
int folded__read_mode(const char *data, size_t len, bool strict, struct pprof_profile **out,
		      struct errmsg *e);

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
/* A side-band record (PERF_RECORD_*) printed like a sample header: no sample. */
bool perf_script__is_sideband(const struct perf_header *h);
/* Blank-led hex address, then a blank or the end: a call chain line. */
bool perf_script__is_frame(const char *s, size_t len);
/* "  file.c:12": the source line -F +srcline prints after a frame. */
bool perf_script__is_srcline(const char *s, size_t len);

#endif
