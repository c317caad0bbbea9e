/* convert --symbolize: names for the addresses of a profile that has none
 * (a legacy profile, perf script's [unknown] frames, any unsymbolized
 * pprof) from the ELF files its mappings name, read here with bpprof's own
 * symbolizer, and their source lines and inline frames where the files
 * have debug info. The profile is extended in place: new strings and
 * functions after the old ones, the lines of each location that got a
 * name. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/log.h"
#include "base/strmap.h"
#include "convert/convert.h"
#include "convert/internal.h"
#include "symbolize/symbolize.h"

#define RESOLVE_NONE	(-1)
#define RESOLVE_KEY_MAX	(64u << 20)	/* bytes of all names together */
#define RESOLVE_MAX_NAME 4096u		/* longer names are not shared between addresses */

/* A location's new line: a function of fn and its line number. */
struct rline {
	int64_t fn, line;
};

struct resolver {
	pprof_pb *pb;
	struct arena *arena;
	struct symbolizer *sym;
	int64_t *file;		/* per mapping: symbolizer file id, or RESOLVE_NONE */
	int64_t *first;		/* per location: its first in lines, or RESOLVE_NONE */
	uint32_t *n_lines;	/* per location: how many */
	bool *with_lines;	/* per location: from DWARF (files and line numbers) */
	struct rline *lines;
	size_t n, cap;
	struct strmap strings;	/* new strings, in order */
	struct strmap funcs;	/* "name\0system_name\0file\0start" -> index into fn */
	struct { size_t name, system, file; int64_t start; } *fn;
	size_t n_fn, cap_fn;
	size_t looked_up, named, lined, unreadable;
	const char *first_unreadable;
};

/* pprof leaves these alone too: no file, pseudo-files, already named. */
static bool resolve__wants(const pprof_pb *pb, const pprof_mapping_pb *m)
{
	const char *f = pprof__str(pb, m->filename);

	return !m->has_functions && f[0] == '/' && strncmp(f, "//anon", 6) &&
	       strncmp(f, "/memfd:", 7) && !strstr(f, "linux-vdso");
}

static int resolve__string(struct resolver *r, const char *s, size_t *idx)
{
	int err = strmap__intern(&r->strings, s, strlen(s), idx);

	return err < 0 ? err : 0;
}

static int resolve__function(struct resolver *r, const struct sym_line *l, int64_t *out)
{
	const char *sys = l->system_name ? l->system_name : l->name, *file = l->file ? l->file : "";
	size_t nl = strlen(l->name), sl = strlen(sys), fl = strlen(file), idx;
	char key[3 * RESOLVE_MAX_NAME + 16];
	int err, kl;

	/* names past the key buffer are rare: they go without sharing */
	if (nl + sl + fl + 3 < RESOLVE_MAX_NAME * 3) {
		kl = snprintf(key, sizeof(key), "%s%c%s%c%s%c%u", l->name, 0, sys, 0, file, 0,
			      l->start_line);
		err = strmap__intern(&r->funcs, key, (size_t)kl, &idx);
		if (err < 0)
			return err;
		if (err == 0) {
			*out = r->funcs.items[idx].val;
			return 0;
		}
	} else {
		idx = SIZE_MAX;
	}
	if (BUF_GROW_ARRAY(r->fn, r->cap_fn, r->n_fn + 1))
		return -ENOMEM;
	err = resolve__string(r, l->name, &r->fn[r->n_fn].name);
	if (!err)
		err = resolve__string(r, sys, &r->fn[r->n_fn].system);
	if (!err)
		err = resolve__string(r, file, &r->fn[r->n_fn].file);
	if (err)
		return err;
	r->fn[r->n_fn].start = l->start_line;
	if (idx != SIZE_MAX)
		r->funcs.items[idx].val = (int64_t)r->n_fn;
	*out = (int64_t)r->n_fn++;
	return 0;
}

/* Location i's lines: the symbolizer's (innermost first), else its name. */
static int resolve__lines(struct resolver *r, size_t i, const struct sym_result *res)
{
	const struct sym_line one = { res->name, res->system_name, NULL, 0, 0 };
	const struct sym_line *ls = res->n_lines ? res->lines : &one;
	size_t n = res->n_lines ? res->n_lines : 1, k;
	int err;

	if (BUF_GROW_ARRAY(r->lines, r->cap, r->n + n))
		return -ENOMEM;
	r->first[i] = (int64_t)r->n;
	r->n_lines[i] = (uint32_t)n;
	r->with_lines[i] = res->n_lines > 0;
	for (k = 0; k < n; k++) {
		if (!ls[k].name)
			return -EINVAL;	/* the symbolizer names every line it gives */
		err = resolve__function(r, &ls[k], &r->lines[r->n + k].fn);
		if (err)
			return err;
		r->with_lines[i] &= ls[k].file && ls[k].line;
		r->lines[r->n + k].line = ls[k].line;
	}
	r->n += n;
	return 0;
}

/* Look every location up that has no line, in its mapping's file. */
static int resolve__lookup(struct resolver *r)
{
	const pprof_pb *pb = r->pb;
	size_t i;
	int err;

	for (i = 0; i < pb->n_mapping; i++) {
		const pprof_mapping_pb *m = pb->mapping[i];

		r->file[i] = RESOLVE_NONE;
		if (!resolve__wants(pb, m))
			continue;
		r->file[i] = symbolizer__open_file(r->sym, pprof__str(pb, m->filename),
						   pprof__str(pb, m->build_id));
		if (r->file[i] == -ENOMEM)
			return -ENOMEM;
	}
	for (i = 0; i < pb->n_location; i++) {
		const pprof_location_pb *l = pb->location[i];
		const pprof_mapping_pb *m;
		struct sym_result res;
		int64_t file;

		r->first[i] = RESOLVE_NONE;
		if (l->n_line || !l->mapping_id || l->mapping_id > pb->n_mapping)
			continue;
		m = pb->mapping[l->mapping_id - 1];
		if (!resolve__wants(pb, m) || l->address < m->memory_start ||
		    l->address >= m->memory_limit)
			continue;
		r->looked_up++;
		file = r->file[l->mapping_id - 1];
		if (file < 0) {
			if (!r->unreadable++)
				r->first_unreadable = pprof__str(pb, m->filename);
			continue;
		}
		err = symbolizer__file(r->sym, file, l->address - m->memory_start + m->file_offset,
				       &res);
		if (err)
			return err;
		if (!res.name && (!res.n_lines || !res.lines[res.n_lines - 1].name))
			continue;
		if (!res.name) {
			res.name = res.lines[res.n_lines - 1].name;
			res.system_name = res.lines[res.n_lines - 1].system_name;
		}
		err = resolve__lines(r, i, &res);
		if (err)
			return err;
		r->named++;
		r->lined += r->with_lines[i];
	}
	return 0;
}

/* The new strings and functions after the old ones, the lines of each
 * named location, has_functions where every address of a mapping got a
 * name, and the other flags where every one got lines from DWARF. */
static int resolve__apply(struct resolver *r)
{
	pprof_pb *pb = r->pb;
	size_t n_str = pb->n_string_table, n_fn = pb->n_function, i;
	char **strings = arena__alloc(r->arena, (n_str + r->strings.n) * sizeof(*strings));
	pprof_function_pb **fns = arena__alloc(r->arena, (n_fn + r->n_fn + 1) * sizeof(*fns));
	bool *unnamed = calloc(2 * (pb->n_mapping + 1), sizeof(*unnamed));
	bool *unlined = unnamed ? unnamed + pb->n_mapping + 1 : NULL;

	if (!strings || !fns || !unnamed) {
		free(unnamed);
		return -ENOMEM;
	}
	memcpy(strings, pb->string_table, n_str * sizeof(*strings));
	for (i = 0; i < r->strings.n; i++) {
		strings[n_str + i] = arena__strndup(r->arena, strmap__key(&r->strings, i),
						    r->strings.items[i].len);
		if (!strings[n_str + i])
			goto nomem;
	}
	if (n_fn)
		memcpy(fns, pb->function, n_fn * sizeof(*fns));
	for (i = 0; i < r->n_fn; i++) {
		pprof_function_pb *f = arena__alloc(r->arena, sizeof(*f));

		if (!f)
			goto nomem;
		perftools__profiles__function__init(f);
		f->id = n_fn + i + 1;
		f->name = (int64_t)(n_str + r->fn[i].name);
		f->system_name = (int64_t)(n_str + r->fn[i].system);
		f->filename = (int64_t)(n_str + r->fn[i].file);
		f->start_line = r->fn[i].start;
		fns[n_fn + i] = f;
	}
	for (i = 0; i < pb->n_location; i++) {
		pprof_location_pb *l = pb->location[i];
		pprof_line_pb *line;
		uint32_t k;

		if (r->first[i] == RESOLVE_NONE) {
			if (!l->n_line && l->mapping_id && l->mapping_id <= pb->n_mapping)
				unnamed[l->mapping_id - 1] = unlined[l->mapping_id - 1] = true;
			continue;
		}
		if (!r->with_lines[i])
			unlined[l->mapping_id - 1] = true;
		line = arena__alloc(r->arena, r->n_lines[i] * sizeof(*line));
		l->line = arena__alloc(r->arena, r->n_lines[i] * sizeof(*l->line));
		if (!line || !l->line)
			goto nomem;
		for (k = 0; k < r->n_lines[i]; k++) {
			const struct rline *rl = &r->lines[r->first[i] + k];

			perftools__profiles__line__init(&line[k]);
			line[k].function_id = n_fn + (uint64_t)rl->fn + 1;
			line[k].line = rl->line;
			l->line[k] = &line[k];
		}
		l->n_line = r->n_lines[i];
	}
	for (i = 0; i < pb->n_mapping; i++) {
		if (r->file[i] < 0 || unnamed[i])
			continue;
		pb->mapping[i]->has_functions = true;
		if (!unlined[i])
			pb->mapping[i]->has_filenames = pb->mapping[i]->has_line_numbers =
				pb->mapping[i]->has_inline_frames = true;
	}
	pb->string_table = strings;
	pb->n_string_table = n_str + r->strings.n;
	pb->function = fns;
	pb->n_function = n_fn + r->n_fn;
	free(unnamed);
	return 0;
nomem:
	free(unnamed);
	return -ENOMEM;
}

static void resolve__report(const struct resolver *r)
{
	if (!r->looked_up)
		pr_info("symbolize: no address left to name (no mapping names a file, or all have "
			"names)");
	else
		pr_info("symbolize: %zu of %zu addresses named, %zu with source lines", r->named,
			r->looked_up, r->lined);
	if (r->unreadable)
		pr_warn("symbolize: %zu addresses are in files that cannot be read here or are "
			"another build, the first in %s: they keep their addresses", r->unreadable,
			r->first_unreadable);
}

int convert__symbolize(struct pprof_profile *p, struct errmsg *e)
{
	struct symbolizer_opts so = { 0 };
	struct resolver r = { .pb = p->pb, .arena = p->arena };
	int err;

	r.sym = symbolizer__new(&so);
	r.file = calloc(p->pb->n_mapping + 1, sizeof(*r.file));
	r.first = calloc(p->pb->n_location + 1, sizeof(*r.first));
	r.n_lines = calloc(p->pb->n_location + 1, sizeof(*r.n_lines));
	r.with_lines = calloc(p->pb->n_location + 1, sizeof(*r.with_lines));
	err = strmap__init(&r.strings, RESOLVE_KEY_MAX);
	if (!err)
		err = strmap__init(&r.funcs, RESOLVE_KEY_MAX);
	if (err || !r.sym || !r.file || !r.first || !r.n_lines || !r.with_lines) {
		err = errmsg__set(e, -ENOMEM, "out of memory");
		goto out;
	}
	err = resolve__lookup(&r);
	if (!err && r.named)
		err = resolve__apply(&r);
	if (err)
		err = errmsg__set(e, err, "symbolize: %s", strerror(-err));
	else
		resolve__report(&r);
	/* what was added must read as pprof reads it */
	if (!err && pprof__validate(p->pb, 1, e))
		err = -EPROTO;
out:
	symbolizer__free(r.sym);
	strmap__free(&r.strings);
	strmap__free(&r.funcs);
	free(r.file);
	free(r.first);
	free(r.n_lines);
	free(r.with_lines);
	free(r.lines);
	free(r.fn);
	return err;
}
