/* Stacks to pprof in two passes: resolve every distinct frame once (its
 * functions and lines into the builder, and which mappings were fully
 * symbolized, so has_functions and the other flags are honest), then hand
 * mappings, locations and samples to the builder. CPU, off-CPU and heap
 * profiles differ only in their types and the values of each sample;
 * off-CPU samples also carry the thread's state as a label and lose the
 * frames of the tracepoint that recorded them. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture/profile.h"
#include "bpf/events.h"
#include "base/buf.h"
#include "base/htab.h"
#include "pprof/builder.h"

#define FRAME_SEED	0x6672616d65ull
#define KERNEL_PROC	(-1)	/* kernel frames are shared by every process */

struct frame {
	int64_t proc;
	uint64_t addr;		/* as looked up: a caller's return address minus one */
	const struct sym_mapping *map;
	uint32_t first_line, n_lines;	/* in resolver.lines; 0 lines: no name */
	uint64_t location_id;
	bool recording;		/* a kernel frame of the tracepoint that recorded it */
};

/* What every location of a mapping has: its flags in the profile. */
struct frame_has {
	bool functions, filenames, line_numbers, inline_frames;
};

struct map_state {
	const struct sym_mapping *map;
	struct frame_has all;
	uint64_t id;
};

struct resolver {
	struct symbolizer *sym;
	struct pprof_builder *b;
	bool user_leaf_returns;		/* the first user frame is a return address too */
	struct frame *frames;
	size_t n_frames, cap_frames;
	struct htab frame_index;
	struct pprof_line *lines;	/* each frame's, innermost first */
	size_t n_lines, cap_lines;
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

static int note_map(struct resolver *r, const struct sym_mapping *map, const struct frame_has *has)
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
		r->maps[i] = (struct map_state){ map, { true, true, true, true }, 0 };
	}
	r->maps[i].all.functions &= has->functions;
	r->maps[i].all.filenames &= has->filenames;
	r->maps[i].all.line_numbers &= has->line_numbers;
	r->maps[i].all.inline_frames &= has->inline_frames;
	return (int)i;
}

static uint32_t frame_hash(const struct frame *key)
{
	return htab__hash(key, offsetof(struct frame, map), FRAME_SEED);
}

static int add_line(struct resolver *r, const char *name, const char *system_name,
		    const char *file, int64_t start_line, int64_t line)
{
	uint64_t id;
	int err = pprof_builder__function(r->b, name, system_name, file, start_line, &id);

	if (err)
		return err;
	if (BUF_GROW_ARRAY(r->lines, r->cap_lines, r->n_lines + 1))
		return -ENOMEM;
	r->lines[r->n_lines++] = (struct pprof_line){ id, line };
	return 0;
}

/* A frame's Lines: the symbolizer's, which live only until its next call,
 * interned now; else the symbol table's name alone. */
static int frame_lines(struct resolver *r, struct frame *f, const struct sym_result *sym,
		       struct frame_has *has)
{
	size_t i;
	int err;

	f->first_line = (uint32_t)r->n_lines;
	*has = (struct frame_has){ sym->name != NULL, false, false, false };
	for (i = 0; i < sym->n_lines && sym->lines[i].name; i++)
		;
	if (sym->n_lines && i == sym->n_lines) {
		*has = (struct frame_has){ true, true, true, true };
		for (i = 0; i < sym->n_lines; i++) {
			const struct sym_line *l = &sym->lines[i];

			has->filenames &= l->file != NULL;
			has->line_numbers &= l->line != 0;
			err = add_line(r, l->name, l->system_name, l->file, l->start_line, l->line);
			if (err)
				return err;
		}
	} else if (sym->name) {
		err = add_line(r, sym->name, sym->system_name, NULL, 0, 0);
		if (err)
			return err;
	}
	f->n_lines = (uint32_t)(r->n_lines - f->first_line);
	return 0;
}

/* The frames a tracepoint's BPF program adds at the leaf of an off-CPU
 * kernel stack (the program, bpf_trace_runN, the tracepoint's stubs): they
 * are the recording, not where the thread waited. */
static bool tracing_frame(const char *name)
{
	static const char *const prefixes[] = { "bpf_trace_run", "__bpf_trace_", "__traceiter_" };
	size_t i, n;

	if (!name)
		return false;
	n = strlen(name);
	if (n > 6 && !strcmp(name + n - 6, " [bpf]"))
		return true;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* The index of (proc, addr) in r->frames, resolving it on first sight. */
static int64_t resolve(struct resolver *r, int64_t proc, uint64_t addr)
{
	struct frame key = { .proc = proc, .addr = addr };
	uint32_t h = frame_hash(&key);
	int64_t i = htab__find(&r->frame_index, h, frame_eq, r, &key);
	struct sym_result sym;
	struct frame_has has;
	int err;

	if (i >= 0)
		return i;
	err = proc == KERNEL_PROC ? symbolizer__kernel(r->sym, addr, &sym)
				  : symbolizer__user(r->sym, proc, addr, &sym);
	if (!err)
		err = frame_lines(r, &key, &sym, &has);
	key.map = sym.map;
	key.recording = !err && proc == KERNEL_PROC && tracing_frame(sym.name);
	if (!err && sym.map)
		err = note_map(r, sym.map, &has);
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
 * the call that made it is the instruction before (its line, its inline
 * frames). A heap sample's first frame is a return address as well: the
 * allocator's, into its caller. */
static uint64_t lookup_addr(const struct resolver *r, int64_t proc, const uint64_t *frames,
			    size_t i)
{
	bool leaf = i == 0 && (proc == KERNEL_PROC || !r->user_leaf_returns);

	return leaf || frames[i] == 0 ? frames[i] : frames[i] - 1;
}

/* Resolve a sample's frames of one stack; *skip: how many at its leaf are
 * the recording's own (tagged samples' kernel stacks only). */
static int resolve_stack(struct resolver *r, const struct stacks *t, const struct stacks_sample *s,
			 bool kernel, size_t *skip, struct profile_stats *st)
{
	int64_t proc = kernel ? KERNEL_PROC : s->proc;
	const uint64_t *f;
	bool leading = kernel && s->tag;
	size_t j, n;

	f = stacks__frames(t, kernel ? s->kstack : s->ustack, &n);
	*skip = 0;
	for (j = 0; j < n; j++) {
		int64_t k = resolve(r, proc, lookup_addr(r, proc, f, j));

		if (k < 0)
			return (int)k;
		leading = leading && r->frames[k].recording;
		if (leading) {
			(*skip)++;
			continue;
		}
		st->frames += s->count;
		st->unsymbolized += r->frames[k].n_lines ? 0 : s->count;
	}
	return 0;
}

/* The kernel names the window's kernel addresses a batch at a time
 * (symbolizer__kernel_batch) before they are resolved one by one. */
static int name_kernel_frames(struct resolver *r, const struct stacks *t)
{
	uint64_t *addrs = NULL;
	size_t i, j, n, cap = 0, k = 0;
	int err = 0;

	for (i = 0; i < t->n_samples && !err; i++) {
		const uint64_t *f = stacks__frames(t, t->samples[i].kstack, &n);

		err = BUF_GROW_ARRAY(addrs, cap, k + n);
		for (j = 0; j < n && !err; j++)
			addrs[k++] = lookup_addr(r, KERNEL_PROC, f, j);
	}
	if (!err)
		err = symbolizer__kernel_batch(r->sym, addrs, k);
	free(addrs);
	return err;
}

static int resolve_all(struct resolver *r, const struct stacks *t, struct profile_stats *st)
{
	size_t i, skip;
	int err = name_kernel_frames(r, t);

	for (i = 0; i < t->n_samples && !err; i++) {
		err = resolve_stack(r, t, &t->samples[i], true, &skip, st);
		if (!err)
			err = resolve_stack(r, t, &t->samples[i], false, &skip, st);
	}
	return err;
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
			.build_id = map->build_id, .has_functions = ms->all.functions,
			.has_filenames = ms->all.filenames, .has_line_numbers = ms->all.line_numbers,
			.has_inline_frames = ms->all.inline_frames,
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
	uint64_t map = 0;
	int err;

	if (!f->location_id) {
		err = f->map ? mapping_id(b, r, f->map, &map) : 0;
		if (!err)
			err = pprof_builder__location(b, map, f->addr, r->lines + f->first_line,
						      f->n_lines, &f->location_id);
		if (err)
			return err;
	}
	*id = f->location_id;
	return 0;
}

static int add_stack(struct pprof_builder *b, struct resolver *r, const struct stacks *t,
		     uint32_t stack, int64_t proc, size_t skip, uint64_t *locs, size_t *n_locs)
{
	size_t j, n;
	const uint64_t *f = stacks__frames(t, stack, &n);
	int err;

	for (j = skip; j < n; j++) {
		/* resolve_all saw every frame: this only finds it */
		int64_t k = resolve(r, proc, lookup_addr(r, proc, f, j));

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
	const char *tag_key;		/* a tagged sample's label: tag_key=tag_names[tag - 1] */
	const char *const *tag_names;
	uint32_t n_tags;
	int64_t time_nanos, duration_nanos;
	bool group_by_process;
	/* pprof takes the first mapping for the main binary (go tool pprof's
	 * "File:"): a profile of many processes has none, so its first is the
	 * kernel's, or a mapping of nothing when no frame is the kernel's. */
	bool several_processes;
	bool user_leaf_returns;		/* stacks start at a return address, not where the CPU was */
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
			{ .key = o->tag_key },
		};
		size_t n = 0, n_labels = 4, skip;

		if (!o->values(o->ctx, i, s, values))
			continue;
		if (s->tag && o->tag_key && s->tag <= o->n_tags) {
			labels[4].str = o->tag_names[s->tag - 1];
			n_labels++;
		}
		/* found again, not resolved: this only learns the skip */
		skip = 0;
		err = s->tag ? resolve_stack(r, t, s, true, &skip, &(struct profile_stats){ 0 }) : 0;
		if (!err)
			err = add_stack(b, r, t, s->kstack, KERNEL_PROC, skip, locs, &n);
		if (!err)
			err = add_stack(b, r, t, s->ustack, s->proc, 0, locs, &n);
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
		err = pprof_builder__add_sample(b, locs, n, values, labels, n_labels);
		if (err)
			return err;
	}
	return 0;
}

static int first_mapping(struct pprof_builder *b, struct resolver *r)
{
	static const struct pprof_mapping none = { 0 };
	uint64_t id;
	size_t i;

	if (!r->n_maps)
		return 0;
	for (i = 0; i < r->n_frames; i++)
		if (r->frames[i].proc == KERNEL_PROC && r->frames[i].map)
			return mapping_id(b, r, r->frames[i].map, &id);
	return pprof_builder__mapping(b, &none, &id);
}

static void resolver__free(struct resolver *r)
{
	free(r->frames);
	free(r->lines);
	free(r->maps);
	htab__free(&r->frame_index);
	htab__free(&r->map_index);
}

static struct pprof_profile *build(const struct stacks *t, struct symbolizer *sym,
				   const struct profile_spec *o, struct profile_stats *st,
				   struct errmsg *e)
{
	struct resolver r = { .sym = sym, .user_leaf_returns = o->user_leaf_returns };
	struct pprof_builder *b = NULL;
	struct pprof_profile *p = NULL;
	int err;

	memset(st, 0, sizeof(*st));
	/* first: frames intern their functions as they are resolved */
	b = r.b = pprof_builder__new(o->types, o->n_types);
	if (!b) {
		err = -errno;
		errmsg__set(e, err, "building the profile: %s", strerror(-err));
		goto out;
	}
	err = htab__init(&r.frame_index, 4096);
	if (!err)
		err = htab__init(&r.map_index, 64);
	if (!err)
		err = resolve_all(&r, t, st);
	if (err) {
		errmsg__set(e, err, "symbolizing: %s", strerror(-err));
		goto out;
	}
	pprof_builder__set_period(b, o->period_type.type, o->period_type.unit, o->period);
	pprof_builder__set_time(b, o->time_nanos, o->duration_nanos);
	if (o->default_type)
		err = pprof_builder__set_default_sample_type(b, o->default_type);
	if (!err && o->comment)
		err = pprof_builder__add_comment(b, o->comment);
	if (!err && o->several_processes)
		err = first_mapping(b, &r);
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

static const char *const offcpu_states[OFFCPU_STATES] = {
	[OFFCPU_RUNNABLE] = "runnable",
	[OFFCPU_SLEEPING] = "sleeping",
	[OFFCPU_UNINTERRUPTIBLE] = "uninterruptible",
	[OFFCPU_IDLE] = "idle",
	[OFFCPU_STOPPED] = "stopped",
	[OFFCPU_OTHER] = "other",
};

/* samples, cpu: a CPU sample's count and time; with off-CPU waits in the
 * table too (tagged), off_cpu: a wait's nanoseconds, the others 0. */
static bool cpu_values(const void *ctx, size_t i, const struct stacks_sample *s, int64_t *out)
{
	int64_t period = *(const int64_t *)ctx;

	out[0] = s->tag ? 0 : (int64_t)s->count;
	out[1] = s->tag ? 0 : (int64_t)s->count * period;
	out[2] = s->tag ? (int64_t)s->value : 0;
	return true;
}

struct pprof_profile *cpu_profile__build(const struct stacks *t, struct symbolizer *sym,
					 const struct cpu_profile_opts *o,
					 struct profile_stats *st, struct errmsg *e)
{
	static const struct pprof_value_type types[] = {
		{ "samples", "count" },
		{ "cpu", "nanoseconds" },
		{ "off_cpu", "nanoseconds" },
	};
	int64_t period = o->freq ? 1000000000 / (int64_t)o->freq : 0;
	struct profile_spec spec = {
		.types = types, .n_types = o->offcpu ? 3 : 2,
		.period_type = { "cpu", "nanoseconds" }, .period = period,
		/* the CPU view unless asked for the other */
		.default_type = o->offcpu ? "cpu" : NULL,
		.tag_key = "state", .tag_names = offcpu_states, .n_tags = OFFCPU_STATES,
		.time_nanos = o->time_nanos, .duration_nanos = o->duration_nanos,
		.group_by_process = o->group_by_process,
		.several_processes = o->several_processes,
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

static bool offcpu_values(const void *ctx, size_t i, const struct stacks_sample *s, int64_t *out)
{
	out[0] = (int64_t)s->count;
	out[1] = (int64_t)s->value;
	return true;
}

struct pprof_profile *offcpu_profile__build(const struct stacks *t, struct symbolizer *sym,
					    const struct offcpu_profile_opts *o,
					    struct profile_stats *st, struct errmsg *e)
{
	static const struct pprof_value_type types[] = {
		{ "off_cpu_samples", "count" },
		{ "off_cpu", "nanoseconds" },
	};
	struct profile_spec spec = {
		.types = types, .n_types = 2,
		/* every wait over the threshold is recorded: nothing is sampled */
		.period_type = { "off_cpu", "nanoseconds" }, .period = 1,
		.default_type = "off_cpu",
		.comment = o->comment,
		.tag_key = "state", .tag_names = offcpu_states, .n_tags = OFFCPU_STATES,
		.time_nanos = o->time_nanos, .duration_nanos = o->duration_nanos,
		.group_by_process = o->group_by_process,
		.several_processes = o->several_processes,
		.values = offcpu_values, .ctx = NULL,
	};

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
		.several_processes = o->several_processes,
		.user_leaf_returns = true,	/* walked from the allocator's return */
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
