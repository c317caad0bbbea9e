/* A profile as folded stacks ("frame;frame;frame COUNT", root first), the
 * text FlameGraph, bcc/libbpf-tools `profile -f` and stackcollapse-*
 * exchange (bpprof's readers of it are in convert/). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/strmap.h"
#include "pprof/folded.h"

#define FOLDED_SEP ';'
#define FOLDED_UNKNOWN "[unknown]"
#define FOLDED_CHUNK (64u << 10)	/* bytes handed to the sink at once */
#define FOLDED_MAX_TEXT (4ull << 30)	/* distinct stacks the writer holds */

struct folded_writer {
	const pprof_pb *pb;
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

/* Profiles reach the writer from the builder or from pprof__decode, both of
 * which number ids 1..N in array order, so an id is its index + 1; the
 * checks only keep a broken profile from reading out of bounds. */
static const pprof_location_pb *folded__location_of(const pprof_pb *pb, uint64_t id)
{
	if (id == 0 || id > pb->n_location || pb->location[id - 1]->id != id)
		return NULL;
	return pb->location[id - 1];
}

static const pprof_function_pb *folded__function_of(const pprof_pb *pb, uint64_t id)
{
	if (id == 0 || id > pb->n_function || pb->function[id - 1]->id != id)
		return NULL;
	return pb->function[id - 1];
}

/* A location without lines as pprof shows it: its binary's base name in
 * brackets ("[gzip]"), a bracketed name as it is ("[kernel.kallsyms]"), or
 * [unknown] when there is no binary either. */
static int folded__append_unsymbolized(struct buf *b, const pprof_pb *pb,
				       const pprof_location_pb *loc)
{
	uint64_t id = loc->mapping_id;
	const char *file = NULL, *slash;
	int err;

	if (id && id <= pb->n_mapping && pb->mapping[id - 1]->id == id)
		file = pprof__str(pb, pb->mapping[id - 1]->filename);
	if (!file || !*file || file[0] == '[')
		return folded__append_name(b, file && *file ? file : FOLDED_UNKNOWN);
	slash = strrchr(file, '/');
	if (slash && slash[1])
		file = slash + 1;
	err = buf__append(b, "[", 1);
	if (!err)
		err = folded__append_name(b, file);
	return err ? err : buf__append(b, "]", 1);
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
		const pprof_location_pb *loc = folded__location_of(w->pb, s->location_id[i]);

		if (!loc)
			return errmsg__set(e, -EINVAL, "sample %zu: no location %" PRIu64, si,
					   s->location_id[i]);
		if (loc->n_line == 0) {
			if (w->stack.len)
				err = buf__append(&w->stack, ";", 1);
			if (!err)
				err = folded__append_unsymbolized(&w->stack, w->pb, loc);
		}
		for (j = loc->n_line; j-- > 0 && !err;) {
			const pprof_function_pb *f = folded__function_of(w->pb,
									 loc->line[j]->function_id);
			const char *name;

			if (!f)
				return errmsg__set(e, -EINVAL, "location %" PRIu64 ": no function %"
						   PRIu64, loc->id, loc->line[j]->function_id);
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
	return err;
}
