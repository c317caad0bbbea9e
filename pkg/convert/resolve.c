/* convert --symbolize: names for the addresses of a profile that has none
 * (a legacy profile, perf script's [unknown] frames, any unsymbolized
 * pprof) from the ELF files its mappings name, read here with bpprof's own
 * symbolizer. The profile is extended in place: new strings and functions
 * after the old ones, a line for each location that got a name. */
#include <errno.h>
#include <inttypes.h>
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

struct resolver {
	pprof_pb *pb;
	struct arena *arena;
	struct symbolizer *sym;
	int64_t *file;		/* per mapping: symbolizer file id, or RESOLVE_NONE */
	int64_t *func;		/* per location: index into funcs, or RESOLVE_NONE */
	struct strmap strings;	/* new strings, in order */
	struct strmap funcs;	/* "name\0system_name" -> index into fn */
	struct { size_t name, system; } *fn;
	size_t n_fn, cap_fn;
	size_t looked_up, named, unreadable;
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

static int resolve__function(struct resolver *r, const struct sym_result *res, int64_t *out)
{
	const char *sys = res->system_name ? res->system_name : res->name;
	size_t nl = strlen(res->name), sl = strlen(sys), idx;
	char key[2 * RESOLVE_MAX_NAME + 2];
	int err;

	/* names past the key buffer are rare: they go without sharing */
	if (nl + sl + 1 < sizeof(key)) {
		memcpy(key, res->name, nl + 1);
		memcpy(key + nl + 1, sys, sl);
		err = strmap__intern(&r->funcs, key, nl + 1 + sl, &idx);
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
	err = resolve__string(r, res->name, &r->fn[r->n_fn].name);
	if (!err)
		err = resolve__string(r, sys, &r->fn[r->n_fn].system);
	if (err)
		return err;
	if (idx != SIZE_MAX)
		r->funcs.items[idx].val = (int64_t)r->n_fn;
	*out = (int64_t)r->n_fn++;
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

		r->func[i] = RESOLVE_NONE;
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
		if (!res.name)
			continue;
		err = resolve__function(r, &res, &r->func[i]);
		if (err)
			return err;
		r->named++;
	}
	return 0;
}

/* The new strings and functions after the old ones, a line per named
 * location, has_functions where every address of a mapping got a name. */
static int resolve__apply(struct resolver *r)
{
	pprof_pb *pb = r->pb;
	size_t n_str = pb->n_string_table, n_fn = pb->n_function, i;
	char **strings = arena__alloc(r->arena, (n_str + r->strings.n) * sizeof(*strings));
	pprof_function_pb **fns = arena__alloc(r->arena, (n_fn + r->n_fn + 1) * sizeof(*fns));
	bool *unnamed = calloc(pb->n_mapping + 1, sizeof(*unnamed));

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
		fns[n_fn + i] = f;
	}
	for (i = 0; i < pb->n_location; i++) {
		pprof_location_pb *l = pb->location[i];
		pprof_line_pb *line;

		if (r->func[i] == RESOLVE_NONE) {
			if (!l->n_line && l->mapping_id && l->mapping_id <= pb->n_mapping)
				unnamed[l->mapping_id - 1] = true;
			continue;
		}
		line = arena__alloc(r->arena, sizeof(*line));
		l->line = arena__alloc(r->arena, sizeof(*l->line));
		if (!line || !l->line)
			goto nomem;
		perftools__profiles__line__init(line);
		line->function_id = n_fn + (uint64_t)r->func[i] + 1;
		l->line[0] = line;
		l->n_line = 1;
	}
	for (i = 0; i < pb->n_mapping; i++)
		if (r->file[i] >= 0 && !unnamed[i])
			pb->mapping[i]->has_functions = true;
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
		pr_info("symbolize: %zu of %zu addresses named", r->named, r->looked_up);
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
	r.func = calloc(p->pb->n_location + 1, sizeof(*r.func));
	err = strmap__init(&r.strings, RESOLVE_KEY_MAX);
	if (!err)
		err = strmap__init(&r.funcs, RESOLVE_KEY_MAX);
	if (err || !r.sym || !r.file || !r.func) {
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
	free(r.func);
	free(r.fn);
	return err;
}
