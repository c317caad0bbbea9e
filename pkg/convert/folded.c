/* Folded stacks ("frame;frame;frame COUNT", root first), the text that
 * FlameGraph, bcc/libbpf-tools `profile -f` and stackcollapse-* exchange. */
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
#define FOLDED_CHUNK (64u << 10)	/* bytes handed to the sink at once */
#define FOLDED_MAX_TEXT (4ull << 30)	/* distinct stacks the writer holds */

struct folded_reader {
	struct pprof_builder *b;
	struct strmap frames;		/* frame name -> location id */
	uint64_t unknown_loc;		/* shared by empty frames */
	uint64_t locs[CONVERT_MAX_FRAMES];
	uint64_t total;
	size_t stacks, skipped, skipped_first, truncated, truncated_first;
};

static int builder_err(void)
{
	return errno ? -errno : -ENOMEM;
}

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
			r->unknown_loc = pprof_builder__location(r->b, 0, 0, NULL, 0);
			if (!r->unknown_loc)
				return builder_err();
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
	line.function_id = pprof_builder__function(r->b, name, name, NULL, 0);
	if (!line.function_id)
		return builder_err();
	*loc = pprof_builder__location(r->b, 0, 0, &line, 1);
	if (!*loc)
		return builder_err();
	r->frames.items[idx].val = (int64_t)*loc;
	return 0;
}

static void folded__skip(size_t *count, size_t *first, size_t line_no)
{
	if ((*count)++ == 0)
		*first = line_no;
}

/* One line: 0, 1 when it is not a folded stack, or a negative errno. */
static int folded__line(struct folded_reader *r, const struct text_line *l, struct errmsg *e)
{
	const char *s = l->p, *f, *end;
	size_t len = l->len, stack_len, depth = 1, skip, kept, i;
	uint64_t count;
	int64_t value;
	int err;

	while (len && text__is_space(*s))
		s++, len--;
	if (memchr(s, '\0', len))
		return 1;
	err = folded__split(s, len, &stack_len, &count);
	if (err == -ERANGE)
		return errmsg__set(e, -EBADMSG, "line %zu: count out of range", l->no);
	if (err)
		return 1;
	for (f = s; (f = memchr(f, FOLDED_SEP, stack_len - (size_t)(f - s))); f++)
		depth++;
	/* Keep the leaf end of an over-deep stack, as stack walkers do. */
	skip = depth > CONVERT_MAX_FRAMES ? depth - CONVERT_MAX_FRAMES : 0;
	if (skip)
		folded__skip(&r->truncated, &r->truncated_first, l->no);
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
	if (count == 0)
		return 0;
	value = (int64_t)count;
	err = pprof_builder__add_sample(r->b, r->locs, kept, &value, NULL, 0);
	if (err)
		return errmsg__set(e, err, "line %zu: %s", l->no, strerror(-err));
	return 0;
}

int folded__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e)
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
		err = errmsg__set(e, builder_err(), "out of memory");
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
		if (err)
			folded__skip(&r->skipped, &r->skipped_first, l.no);
		err = 0;
	}
	if (!r->stacks) {
		err = r->skipped ? errmsg__set(e, -EBADMSG, "no folded stacks found (lines that are "
					       "not 'frame;frame COUNT': %zu, the first is line %zu)",
					       r->skipped, r->skipped_first)
				 : errmsg__set(e, -EBADMSG, "no folded stacks found");
		goto free_reader;
	}
	if (r->skipped)
		pr_warn("folded: skipped lines that are not 'frame;frame COUNT': %zu, the first is "
			"line %zu", r->skipped, r->skipped_first);
	if (r->truncated)
		pr_warn("folded: stacks deeper than %u frames cut to their leaf-most %u: %zu, the "
			"first is line %zu", CONVERT_MAX_FRAMES, CONVERT_MAX_FRAMES, r->truncated,
			r->truncated_first);
	*out = pprof_builder__finish(r->b);
	if (!*out)
		err = errmsg__set(e, builder_err(), "cannot finish the profile");
free_reader:
	pprof_builder__free(r->b);
	strmap__free(&r->frames);
	free(r);
	return err;
}

/* Profiles from other producers need not number ids 1..N; look those up
 * through a hash index instead. */
struct id_index {
	uint64_t *ids;		/* NULL when id i+1 sits at index i */
	size_t n;
	struct htab t;
};

static bool id_index__eq(const void *ctx, uint32_t idx, const void *key)
{
	const uint64_t *ids = ctx;

	return ids[idx] == *(const uint64_t *)key;
}

typedef uint64_t id_at_fn(const pprof_pb *pb, size_t i);

static uint64_t location_id_at(const pprof_pb *pb, size_t i) { return pb->location[i]->id; }
static uint64_t function_id_at(const pprof_pb *pb, size_t i) { return pb->function[i]->id; }

static int id_index__init(struct id_index *x, const pprof_pb *pb, size_t n, id_at_fn *id_at)
{
	size_t i;
	int err;

	memset(x, 0, sizeof(*x));
	x->n = n;
	for (i = 0; i < n && id_at(pb, i) == i + 1; i++)
		;
	if (i == n)
		return 0;
	if (n >= UINT32_MAX - 1)
		return -E2BIG;
	x->ids = malloc(n * sizeof(*x->ids));
	if (!x->ids)
		return -ENOMEM;
	err = htab__init(&x->t, n);
	for (i = 0; !err && i < n; i++) {
		x->ids[i] = id_at(pb, i);
		err = htab__insert(&x->t, hash__bytes(&x->ids[i], sizeof(x->ids[i]), 0), (uint32_t)i);
	}
	return err;
}

static int64_t id_index__find(const struct id_index *x, uint64_t id)
{
	if (!x->ids)
		return id >= 1 && id <= x->n ? (int64_t)(id - 1) : -1;
	return htab__find(&x->t, hash__bytes(&id, sizeof(id), 0), id_index__eq, x->ids, &id);
}

static void id_index__free(struct id_index *x)
{
	free(x->ids);
	htab__free(&x->t);
}

struct folded_writer {
	const pprof_pb *pb;
	struct id_index locs, funcs;
	struct strmap stacks;		/* folded stack -> total */
	struct buf stack, out;
	compress_sink_fn *sink;
	void *ctx;
};

/* A name must not break the line or the stack apart. */
static int folded__append_name(struct buf *b, const char *name)
{
	size_t n = strlen(name), i;
	char *p;
	int err;

	if (!n) {
		name = FOLDED_UNKNOWN;
		n = strlen(name);
	}
	err = buf__append(b, name, n);
	if (err)
		return err;
	p = (char *)b->data + b->len - n;
	for (i = 0; i < n; i++) {
		if (p[i] == FOLDED_SEP || p[i] == '\n' || p[i] == '\r')
			p[i] = '_';
	}
	return 0;
}

/* The folded text of sample si into w->stack: root first, and within a
 * location the caller line before the lines inlined into it. */
static int folded__stack(struct folded_writer *w, size_t si, struct errmsg *e)
{
	const pprof_sample_pb *s = w->pb->sample[si];
	size_t i, j;
	int err = 0;

	w->stack.len = 0;
	if (s->n_location_id == 0)
		return folded__append_name(&w->stack, FOLDED_UNKNOWN);
	for (i = s->n_location_id; i-- > 0 && !err;) {
		int64_t li = id_index__find(&w->locs, s->location_id[i]);
		const pprof_location_pb *loc;

		if (li < 0)
			return errmsg__set(e, -EINVAL, "sample %zu: no location %" PRIu64, si,
					   s->location_id[i]);
		loc = w->pb->location[li];
		if (loc->n_line == 0) {
			if (w->stack.len)
				err = buf__append(&w->stack, ";", 1);
			if (!err)
				err = folded__append_name(&w->stack, FOLDED_UNKNOWN);
		}
		for (j = loc->n_line; j-- > 0 && !err;) {
			int64_t fi = id_index__find(&w->funcs, loc->line[j]->function_id);
			const pprof_function_pb *f;
			const char *name;

			if (fi < 0)
				return errmsg__set(e, -EINVAL, "location %" PRIu64 ": no function %"
						   PRIu64, loc->id, loc->line[j]->function_id);
			f = w->pb->function[fi];
			name = pprof__str(w->pb, f->name);
			if (!*name)
				name = pprof__str(w->pb, f->system_name);
			if (w->stack.len)
				err = buf__append(&w->stack, ";", 1);
			if (!err)
				err = folded__append_name(&w->stack, name);
		}
	}
	return err ? errmsg__set(e, err, "sample %zu: %s", si, strerror(-err)) : 0;
}

static int folded__flush(struct folded_writer *w)
{
	int err = w->out.len ? w->sink(w->ctx, w->out.data, w->out.len) : 0;

	w->out.len = 0;
	return err;
}

static int folded__emit(struct folded_writer *w, size_t *negative)
{
	size_t i;
	int err;

	for (i = 0; i < w->stacks.n; i++) {
		const struct strmap_entry *s = &w->stacks.items[i];
		char num[32];
		int n;

		if (s->val <= 0) {
			*negative += s->val < 0;
			continue;
		}
		n = snprintf(num, sizeof(num), " %" PRId64 "\n", s->val);
		err = buf__append(&w->out, strmap__key(&w->stacks, i), s->len);
		if (!err)
			err = buf__append(&w->out, num, (size_t)n);
		if (!err && w->out.len >= FOLDED_CHUNK)
			err = folded__flush(w);
		if (err)
			return err;
	}
	return folded__flush(w);
}

int folded__write(const struct pprof_profile *p, size_t sample_index,
		  compress_sink_fn *sink, void *ctx, struct errmsg *e)
{
	struct folded_writer w = {
		.pb = p->pb, .sink = sink, .ctx = ctx,
		.stack = BUF_INIT(FOLDED_MAX_TEXT), .out = BUF_INIT(0),
	};
	const pprof_pb *pb = p->pb;
	size_t i, negative = 0;
	int err;

	if (sample_index >= pb->n_sample_type)
		return errmsg__set(e, -EINVAL, "sample type %zu out of range: the profile has %zu",
				   sample_index, pb->n_sample_type);
	err = strmap__init(&w.stacks, FOLDED_MAX_TEXT);
	if (!err)
		err = id_index__init(&w.locs, pb, pb->n_location, location_id_at);
	if (!err)
		err = id_index__init(&w.funcs, pb, pb->n_function, function_id_at);
	if (err) {
		err = errmsg__set(e, err, "%s", strerror(-err));
		goto free_writer;
	}
	for (i = 0; i < pb->n_sample; i++) {
		const pprof_sample_pb *s = pb->sample[i];
		struct strmap_entry *t;
		size_t idx;

		if (s->n_value <= sample_index) {
			err = errmsg__set(e, -EINVAL, "sample %zu has %zu values, not %zu", i,
					  s->n_value, pb->n_sample_type);
			goto free_writer;
		}
		if (s->value[sample_index] == 0)
			continue;
		err = folded__stack(&w, i, e);
		if (err)
			goto free_writer;
		err = strmap__intern(&w.stacks, w.stack.data, w.stack.len, &idx);
		if (err < 0) {
			err = errmsg__set(e, err, "sample %zu: %s", i, strerror(-err));
			goto free_writer;
		}
		t = &w.stacks.items[idx];
		if (__builtin_add_overflow(t->val, s->value[sample_index], &t->val)) {
			err = errmsg__set(e, -ERANGE, "sample %zu: values add up past 64 bits", i);
			goto free_writer;
		}
	}
	err = folded__emit(&w, &negative);
	if (err) {
		err = errmsg__set(e, err, "cannot write folded stacks: %s", strerror(-err));
		goto free_writer;
	}
	if (negative)
		pr_warn("folded: left out %zu stacks whose values add up below zero", negative);
free_writer:
	buf__free(&w.out);
	buf__free(&w.stack);
	strmap__free(&w.stacks);
	id_index__free(&w.funcs);
	id_index__free(&w.locs);
	return err;
}
