/* Reads folded stacks ("frame;frame;frame COUNT", root first), the text
 * that FlameGraph, bcc/libbpf-tools `profile -f` and stackcollapse-*
 * exchange. The writer is pprof/folded.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/parse.h"
#include "convert/convert.h"
#include "convert/internal.h"
#include "pprof/builder.h"

#define FOLDED_SEP ';'
#define FOLDED_UNKNOWN "[unknown]"
#define FOLDED_QUOTE 60			/* bytes of a bad line quoted in errors */
/* bcc/libbpf-tools `profile -f` may print this line among its stacks */
#define FOLDED_WARNING "WARNING:"

/* What a line was: a stack, a line that holds none but belongs (comments,
 * counts of 0, profile's warning), or one that is no folded line at all. */
enum { LINE_STACK, LINE_SKIP, LINE_BAD };

struct folded_reader {
	struct pprof_builder *b;
	struct strmap frames;		/* frame name -> location id */
	uint64_t unknown_loc;		/* shared by empty frames */
	uint64_t locs[CONVERT_MAX_FRAMES];
	uint64_t total;
	size_t stacks;
	struct tally skipped, bad, deep;
};

/* Split "STACK COUNT": the count is the last blank-separated token because
 * frames themselves may hold blanks. -EINVAL: not that shape. */
static int folded__split(const char *s, size_t len, size_t *stack_len, uint64_t *count)
{
	size_t end = len, sp;
	int err;

	while (end && text__is_space(s[end - 1]))
		end--;
	for (sp = end; sp && !text__is_space(s[sp - 1]); sp--)
		;
	if (sp == 0)
		return -EINVAL;
	err = parse__u64n(s + sp, end - sp, 10, count);
	if (err)
		return err;
	if (*count > INT64_MAX)
		return -ERANGE;
	for (sp--; sp && text__is_space(s[sp - 1]); sp--)
		;
	if (sp == 0)
		return -EINVAL;
	*stack_len = sp;
	return 0;
}

static int folded__location(struct folded_reader *r, const char *name, size_t len, uint64_t *loc)
{
	struct pprof_line line = { 0 };
	size_t idx;
	int err;

	/* "a;;b": keep the frame's place in the stack, as a location nothing
	 * is known about (what folded__write prints as [unknown]). */
	if (len == 0) {
		if (!r->unknown_loc) {
			err = pprof_builder__location(r->b, 0, 0, NULL, 0, &r->unknown_loc);
			if (err)
				return err;
		}
		*loc = r->unknown_loc;
		return 0;
	}
	err = strmap__intern(&r->frames, name, len, &idx);
	if (err < 0)
		return err;
	if (err == 0) {
		*loc = (uint64_t)r->frames.items[idx].val;
		return 0;
	}
	name = strmap__key(&r->frames, idx);
	err = pprof_builder__function(r->b, name, name, NULL, 0, &line.function_id);
	if (!err)
		err = pprof_builder__location(r->b, 0, 0, &line, 1, loc);
	if (err)
		return err;
	r->frames.items[idx].val = (int64_t)*loc;
	return 0;
}

/* Every frame empty (";;; 2"): nothing is known of any of them. */
static bool folded__all_empty(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != FOLDED_SEP && !text__is_space(s[i]))
			return false;
	return true;
}

/* One line: LINE_STACK, LINE_SKIP, LINE_BAD, or a negative errno. */
static int folded__line(struct folded_reader *r, const struct text_line *l, struct errmsg *e)
{
	const char *s = l->p, *f, *end;
	size_t len = l->len, stack_len, depth = 1, skip, kept, i;
	uint64_t count;
	int64_t value;
	int err;

	text__trim(&s, &len);
	/* Comments: perf script --header, or notes people add; no frame name
	 * a tool writes starts with '#'. */
	if (len && *s == '#')
		return LINE_SKIP;
	if (len >= strlen(FOLDED_WARNING) && !memcmp(s, FOLDED_WARNING, strlen(FOLDED_WARNING)))
		return LINE_SKIP;
	if (memchr(s, '\0', len))
		return LINE_BAD;
	err = folded__split(s, len, &stack_len, &count);
	if (err == -ERANGE)
		return errmsg__set(e, -EBADMSG, "line %zu: count out of range", l->no);
	if (err)
		return LINE_BAD;
	/* A count of 0 says the stack was never seen: nothing a profile can
	 * hold. Such lines are skipped and counted like any other line without
	 * a stack, so that text whose lines merely end in 0 (such as "# CPU 0:
	 * Core ID 0, Socket ID 0" headers) is refused, not read as an empty
	 * profile. */
	if (count == 0 || folded__all_empty(s, stack_len))
		return LINE_SKIP;
	for (f = s; (f = memchr(f, FOLDED_SEP, stack_len - (size_t)(f - s))); f++)
		depth++;
	/* Keep the leaf end of an over-deep stack, as stack walkers do. */
	skip = depth > CONVERT_MAX_FRAMES ? depth - CONVERT_MAX_FRAMES : 0;
	if (skip)
		tally__add(&r->deep, l->no);
	kept = depth - skip;
	end = s + stack_len;
	for (f = s, i = 0; i < depth; i++) {
		const char *sep = memchr(f, FOLDED_SEP, (size_t)(end - f));
		size_t flen = sep ? (size_t)(sep - f) : (size_t)(end - f);

		if (i >= skip) {
			err = folded__location(r, f, flen, &r->locs[kept - 1 - (i - skip)]);
			if (err)
				return errmsg__set(e, err, "line %zu: %s", l->no, strerror(-err));
		}
		f += flen + 1;
	}
	if (count > (uint64_t)INT64_MAX - r->total)
		return errmsg__set(e, -EBADMSG, "line %zu: counts add up past %" PRId64, l->no,
				   INT64_MAX);
	r->total += count;
	r->stacks++;
	value = (int64_t)count;
	err = pprof_builder__add_sample(r->b, r->locs, kept, &value, NULL, 0);
	if (err)
		return errmsg__set(e, err, "line %zu: %s", l->no, strerror(-err));
	return LINE_STACK;
}

/* A line that is no folded line, in detected input: refused. */
static int folded__refuse_line(const struct text_line *l, struct errmsg *e)
{
	const char *s = l->p;
	size_t len = l->len;

	text__trim(&s, &len);
	return errmsg__set(e, -EBADMSG, "line %zu: expected 'frame;frame COUNT'%s, got '%.*s'",
			   l->no, memchr(s, '\0', len) ? " (it holds a NUL byte)" : "",
			   len > FOLDED_QUOTE ? FOLDED_QUOTE : (int)len, s);
}

/* Input named folded may hold a few lines that are none, but not most:
 * perf script with thread ids where counts would be is no folded text. */
static int folded__judge(const struct folded_reader *r, struct errmsg *e)
{
	if (r->bad.n > r->stacks)
		return errmsg__set(e, -EBADMSG, "most lines are not 'frame;frame COUNT' (%zu of %zu, "
				   "the first at line %zu): not folded stacks?", r->bad.n,
				   r->bad.n + r->stacks, r->bad.first);
	return 0;
}

int folded__read_mode(const char *data, size_t len, bool strict, struct pprof_profile **out,
		      struct errmsg *e)
{
	static const struct pprof_value_type type = { "samples", "count" };
	struct text_iter it = { .data = data, .len = len };
	struct folded_reader *r;
	struct text_line l;
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return errmsg__set(e, -ENOMEM, "out of memory");
	err = strmap__init(&r->frames, 0);
	if (err)
		goto free_reader;
	r->b = pprof_builder__new(&type, 1);
	if (!r->b) {
		err = errmsg__set(e, convert__builder_err(), "out of memory");
		goto free_reader;
	}
	while (text__next(&it, &l)) {
		if (l.len > CONVERT_MAX_LINE) {
			err = errmsg__set(e, -EBADMSG, "line %zu: longer than %u bytes", l.no,
					  CONVERT_MAX_LINE);
			goto free_reader;
		}
		if (text__is_blank(l.p, l.len))
			continue;
		err = folded__line(r, &l, e);
		if (err < 0)
			goto free_reader;
		if (err == LINE_BAD) {
			tally__add(&r->bad, l.no);
			if (strict) {
				err = folded__refuse_line(&l, e);
				goto free_reader;
			}
		}
		if (err != LINE_STACK)
			tally__add(&r->skipped, l.no);
		err = 0;
	}
	/* An empty profile would only hide that the input was something else. */
	if (!r->stacks) {
		err = r->skipped.n ? errmsg__set(e, -EBADMSG, "no stacks found: not folded stacks? "
						 "(lines skipped: %zu, the first at line %zu)",
						 r->skipped.n, r->skipped.first)
				   : errmsg__set(e, -EBADMSG, "no stacks found: not folded stacks?");
		goto free_reader;
	}
	err = folded__judge(r, e);
	if (err)
		goto free_reader;
	if (r->skipped.n)
		pr_warn("folded: lines skipped (# comments, or not 'frame;frame COUNT' with COUNT "
			"above 0): %zu, the first at line %zu", r->skipped.n, r->skipped.first);
	tally__warn_deep(&r->deep, "folded");
	*out = pprof_builder__finish(r->b);
	if (!*out)
		err = errmsg__set(e, convert__builder_err(), "cannot finish the profile");
free_reader:
	pprof_builder__free(r->b);
	strmap__free(&r->frames);
	free(r);
	return err;
}

int folded__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e)
{
	return folded__read_mode(data, len, false, out, e);
}
