/* Stacks to pprof in two passes: resolve every distinct frame once (and
 * learn which mappings were fully symbolized, so has_functions is honest),
 * then hand mappings, locations and samples to the builder. CPU and heap
 * profiles differ only in their types and the values of each sample. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture/profile.h"
#include "base/buf.h"
#include "base/htab.h"
#include "pprof/builder.h"

#define FRAME_SEED	0x6672616d65ull
#define KERNEL_PROC	(-1)	/* kernel frames are shared by every process */

struct frame {
	int64_t proc;
	uint64_t addr;		/* as looked up: a caller's return address minus one */
	struct sym_result sym;
	uint64_t location_id;
};

struct map_state {
	const struct sym_mapping *map;
	bool all_named;
	uint64_t id;
};

struct resolver {
	struct symbolizer *sym;
	struct frame *frames;
	size_t n_frames, cap_frames;
	struct htab frame_index;
	struct map_state *maps;
	size_t n_maps, cap_maps;
	struct htab map_index;
};

static bool frame_eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct frame *a = &((const struct resolver *)ctx)->frames[idx], *b = key;

	return a->proc == b->proc && a->addr == b->addr;
}

static bool map_eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct resolver *)ctx)->maps[idx].map == key;
}

static uint32_t map_hash(const struct sym_mapping *map)
{
	return htab__hash(&map, sizeof(map), FRAME_SEED);
}

static int note_map(struct resolver *r, const struct sym_mapping *map, bool named)
{
	uint32_t h = map_hash(map);
	int64_t i = htab__find(&r->map_index, h, map_eq, r, map);
	int err;

	if (i < 0) {
		err = BUF_GROW_ARRAY(r->maps, r->cap_maps, r->n_maps + 1);
		if (!err)
			err = htab__insert(&r->map_index, h, (uint32_t)r->n_maps);
		if (err)
			return err;
		i = (int64_t)r->n_maps++;
		r->maps[i] = (struct map_state){ map, true, 0 };
	}
	r->maps[i].all_named &= named;
	return (int)i;
}

static uint32_t frame_hash(const struct frame *key)
{
	return htab__hash(key, offsetof(struct frame, sym), FRAME_SEED);
}

/* The index of (proc, addr) in r->frames, resolving it on first sight. */
static int64_t resolve(struct resolver *r, int64_t proc, uint64_t addr)
{
	struct frame key = { .proc = proc, .addr = addr };
	uint32_t h = frame_hash(&key);
	int64_t i = htab__find(&r->frame_index, h, frame_eq, r, &key);
	int err;

	if (i >= 0)
		return i;
	err = proc == KERNEL_PROC ? symbolizer__kernel(r->sym, addr, &key.sym)
				  : symbolizer__user(r->sym, proc, addr, &key.sym);
	if (!err && key.sym.map)
		err = note_map(r, key.sym.map, key.sym.name != NULL);
	if (err < 0)
		return err;
	err = BUF_GROW_ARRAY(r->frames, r->cap_frames, r->n_frames + 1);
	if (!err)
		err = htab__insert(&r->frame_index, h, (uint32_t)r->n_frames);
	if (err)
		return err;
	r->frames[r->n_frames] = key;
	return (int64_t)r->n_frames++;
}

/* A leaf is where the CPU was; every other frame is a return address, and
 * the call that made it is the instruction before. */
static uint64_t lookup_addr(const uint64_t *frames, size_t i)
{
	return i == 0 || frames[i] == 0 ? frames[i] : frames[i] - 1;
}

static int resolve_all(struct resolver *r, const struct stacks *t, struct profile_stats *st)
{
	size_t i, j, n;

	for (i = 0; i < t->n_samples; i++) {
		const struct stacks_sample *s = &t->samples[i];
		const uint32_t stacks[2] = { s->kstack, s->ustack };
		const int64_t procs[2] = { KERNEL_PROC, s->proc };
		const uint64_t *f;
		int part;

		for (part = 0; part < 2; part++) {
			f = stacks__frames(t, stacks[part], &n);
			for (j = 0; j < n; j++) {
				int64_t k = resolve(r, procs[part], lookup_addr(f, j));

				if (k < 0)
					return (int)k;
				st->frames += s->count;
				st->unsymbolized += r->frames[k].sym.name ? 0 : s->count;
			}
		}
	}
	return 0;
}

static int mapping_id(struct pprof_builder *b, struct resolver *r, const struct sym_mapping *map,
		      uint64_t *id)
{
	int64_t i = htab__find(&r->map_index, map_hash(map), map_eq, r, map);
	struct map_state *ms;
	struct pprof_mapping pm;
	int err;

	if (i < 0)
		return -ENOENT;
	ms = &r->maps[i];
	if (!ms->id) {
		pm = (struct pprof_mapping){
			.memory_start = map->start, .memory_limit = map->limit,
			.file_offset = map->offset, .filename = map->path,
			.build_id = map->build_id, .has_functions = ms->all_named,
		};
		err = pprof_builder__mapping(b, &pm, &ms->id);
		if (err)
			return err;
	}
	*id = ms->id;
	return 0;
}

static int location_id(struct pprof_builder *b, struct resolver *r, struct frame *f, uint64_t *id)
{
	struct pprof_line line = { 0, 0 };
	uint64_t map = 0;
	int err;

	if (!f->location_id) {
		err = f->sym.map ? mapping_id(b, r, f->sym.map, &map) : 0;
		if (!err && f->sym.name)
			err = pprof_builder__function(b, f->sym.name, f->sym.system_name, NULL, 0,
						      &line.function_id);
		if (!err)
			err = pprof_builder__location(b, map, f->addr, &line,
						      line.function_id ? 1 : 0, &f->location_id);
		if (err)
			return err;
	}
	*id = f->location_id;
	return 0;
}

static int add_stack(struct pprof_builder *b, struct resolver *r, const struct stacks *t,
		     uint32_t stack, int64_t proc, uint64_t *locs, size_t *n_locs)
{
	size_t j, n;
	const uint64_t *f = stacks__frames(t, stack, &n);
	int err;

	for (j = 0; j < n; j++) {
		/* resolve_all saw every frame: this only finds it */
		int64_t k = resolve(r, proc, lookup_addr(f, j));

		if (k < 0)
			return (int)k;
		err = location_id(b, r, &r->frames[k], &locs[(*n_locs)++]);
		if (err)
			return err;
	}
	return 0;
}

/* What makes a profile of the stacks table: its types and each sample's values. */
struct profile_spec {
	const struct pprof_value_type *types;
	size_t n_types;
	struct pprof_value_type period_type;
	int64_t period;
	const char *default_type;	/* NULL: the first */
	const char *comment;		/* NULL: none */
	int64_t time_nanos, duration_nanos;
	bool group_by_process;
	/* Fill the values of sample i; false leaves the sample out. */
	bool (*values)(const void *ctx, size_t i, const struct stacks_sample *s, int64_t *out);
	const void *ctx;
};

static int add_samples(struct pprof_builder *b, struct resolver *r, const struct stacks *t,
		       const struct profile_spec *o)
{
	uint64_t locs[2 * STACKS_MAX_FRAMES + 1];
	int64_t values[PPROF_MAX_SAMPLE_TYPES];
	size_t i;
	int err;

	for (i = 0; i < t->n_samples; i++) {
		const struct stacks_sample *s = &t->samples[i];
		const char *comm = stacks__string(t, s->comm);
		struct pprof_label labels[] = {
			{ .key = "pid", .num = s->pid },
			{ .key = "tid", .num = s->tid },
			{ .key = "comm", .str = comm },
			{ .key = "thread_comm", .str = stacks__string(t, s->thread_comm) },
		};
		size_t n = 0;

		if (!o->values(o->ctx, i, s, values))
			continue;
		err = add_stack(b, r, t, s->kstack, KERNEL_PROC, locs, &n);
		if (!err)
			err = add_stack(b, r, t, s->ustack, s->proc, locs, &n);
		if (err)
			return err;
		if (o->group_by_process) {
			struct pprof_line line = { 0, 0 };

			err = pprof_builder__function(b, comm, comm, NULL, 0, &line.function_id);
			if (!err)
				err = pprof_builder__location(b, 0, 0, &line, 1, &locs[n++]);
			if (err)
				return err;
		}
		err = pprof_builder__add_sample(b, locs, n, values, labels,
						sizeof(labels) / sizeof(labels[0]));
		if (err)
			return err;
	}
	return 0;
}

static void resolver__free(struct resolver *r)
{
	free(r->frames);
	free(r->maps);
	htab__free(&r->frame_index);
	htab__free(&r->map_index);
}

static struct pprof_profile *build(const struct stacks *t, struct symbolizer *sym,
				   const struct profile_spec *o, struct profile_stats *st,
				   struct errmsg *e)
{
	struct resolver r = { .sym = sym };
	struct pprof_builder *b = NULL;
	struct pprof_profile *p = NULL;
	int err;

	memset(st, 0, sizeof(*st));
	err = htab__init(&r.frame_index, 4096);
	if (!err)
		err = htab__init(&r.map_index, 64);
	if (!err)
		err = resolve_all(&r, t, st);
	if (err) {
		errmsg__set(e, err, "symbolizing: %s", strerror(-err));
		goto out;
	}
	b = pprof_builder__new(o->types, o->n_types);
	if (!b) {
		err = -errno;
		errmsg__set(e, err, "building the profile: %s", strerror(-err));
		goto out;
	}
	pprof_builder__set_period(b, o->period_type.type, o->period_type.unit, o->period);
	pprof_builder__set_time(b, o->time_nanos, o->duration_nanos);
	if (o->default_type)
		err = pprof_builder__set_default_sample_type(b, o->default_type);
	if (!err && o->comment)
		err = pprof_builder__add_comment(b, o->comment);
	if (!err)
		err = add_samples(b, &r, t, o);
	if (err) {
		errmsg__set(e, err, "building the profile: %s", strerror(-err));
		goto out;
	}
	p = pprof_builder__finish(b);
	if (!p) {
		err = -errno;
		errmsg__set(e, err, "building the profile: %s", strerror(-err));
	}
out:
	pprof_builder__free(b);
	resolver__free(&r);
	if (!p)
		errno = -err;
	return p;
}

static bool cpu_values(const void *ctx, size_t i, const struct stacks_sample *s, int64_t *out)
{
	out[0] = (int64_t)s->count;
	out[1] = (int64_t)s->count * *(const int64_t *)ctx;
	return true;
}

struct pprof_profile *cpu_profile__build(const struct stacks *t, struct symbolizer *sym,
					 const struct cpu_profile_opts *o,
					 struct profile_stats *st, struct errmsg *e)
{
	static const struct pprof_value_type types[] = {
		{ "samples", "count" },
		{ "cpu", "nanoseconds" },
	};
	int64_t period = o->freq ? 1000000000 / (int64_t)o->freq : 0;
	struct profile_spec spec = {
		.types = types, .n_types = 2,
		.period_type = { "cpu", "nanoseconds" }, .period = period,
		.time_nanos = o->time_nanos, .duration_nanos = o->duration_nanos,
		.group_by_process = o->group_by_process,
		.values = cpu_values, .ctx = &period,
	};

	if (!o->freq) {
		memset(st, 0, sizeof(*st));
		errmsg__set(e, -EINVAL, "no sampling frequency");
		errno = EINVAL;
		return NULL;
	}
	return build(t, sym, &spec, st, e);
}

static bool heap_values(const void *ctx, size_t i, const struct stacks_sample *s, int64_t *out)
{
	const struct heap_table *h = ctx;
	const struct heap_values *v = &h->vals[i];

	out[0] = llround(v->alloc_objects);
	out[1] = llround(v->alloc_space);
	out[2] = llround(v->inuse_objects);
	out[3] = llround(v->inuse_space);
	/* A size-0 allocation weighs nothing (as Go scales): nothing to show. */
	return out[0] || out[1] || out[2] || out[3];
}

struct pprof_profile *heap_profile__build(const struct heap_table *h, struct symbolizer *sym,
					  const struct heap_profile_opts *o,
					  struct profile_stats *st, struct errmsg *e)
{
	static const struct pprof_value_type types[] = {
		{ "alloc_objects", "count" },
		{ "alloc_space", "bytes" },
		{ "inuse_objects", "count" },
		{ "inuse_space", "bytes" },
	};
	struct profile_spec spec = {
		.types = types, .n_types = 4,
		.period_type = { "space", "bytes" }, .period = h->rate ? (int64_t)h->rate : 1,
		.default_type = "inuse_space",
		.comment = o->started_before ?
			"allocations made before the capture started are not included: in-use "
			"values count only memory allocated during the capture and not freed" : NULL,
		.time_nanos = o->time_nanos, .duration_nanos = o->duration_nanos,
		.group_by_process = o->group_by_process,
		.values = heap_values, .ctx = h,
	};

	if (h->n_vals < h->stacks.n_samples) {
		memset(st, 0, sizeof(*st));
		errmsg__set(e, -EINVAL, "heap table: a sample without values");
		errno = EINVAL;
		return NULL;
	}
	return build(&h->stacks, sym, &spec, st, e);
}
