/* Validation and id normalisation of in-memory profiles. The rules are
 * google/pprof's (profile.Parse and CheckValid) plus Parca's 1..N ids. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/htab.h"
#include "pprof/profile.h"

void pprof__free(struct pprof_profile *p)
{
	if (!p)
		return;
	arena__free(p->arena);
	free(p);
}

size_t pprof__default_sample_index(const pprof_pb *pb)
{
	size_t i;

	if (pb->default_sample_type)
		for (i = 0; i < pb->n_sample_type; i++)
			if (pb->sample_type[i]->type == pb->default_sample_type ||
			    !strcmp(pprof__str(pb, pb->sample_type[i]->type),
				    pprof__str(pb, pb->default_sample_type)))
				return i;
	return pb->n_sample_type ? pb->n_sample_type - 1 : 0;
}

int pprof__sample_index(const pprof_pb *pb, const char *type)
{
	size_t i;

	for (i = 0; i < pb->n_sample_type; i++)
		if (!strcmp(pprof__str(pb, pb->sample_type[i]->type), type))
			return (int)i;
	return -1;
}

/* An id → array index lookup. Ids 1..N in order (what Go and bpprof write)
 * need no table; anything else gets a hash index. */
struct id_index {
	size_t n;
	bool dense;
	struct htab table;
	const void *items;	/* array of message pointers */
	size_t id_offset;	/* offsetof(message, id) */
};

static uint64_t id_index__id(const struct id_index *x, size_t i)
{
	const char *msg = ((const void *const *)x->items)[i];

	return *(const uint64_t *)(msg + x->id_offset);
}

static bool id__eq(const void *ctx, uint32_t idx, const void *key)
{
	return id_index__id(ctx, idx) == *(const uint64_t *)key;
}

static uint32_t id__hash(uint64_t id) { return htab__hash(&id, sizeof(id), 7); }

static int id_index__build(struct id_index *x, const char *what, const void *items, size_t n,
			   size_t id_offset, bool strict, struct errmsg *e)
{
	size_t i;

	*x = (struct id_index){ .n = n, .dense = true, .items = items, .id_offset = id_offset };
	for (i = 0; i < n && x->dense; i++)
		x->dense = id_index__id(x, i) == i + 1;
	if (x->dense)
		return 0;
	if (strict)
		return errmsg__set(e, -EINVAL, "%s ids are not 1..N in order (%s %zu of %zu has id %"
				   PRIu64 ")", what, what, i, n, id_index__id(x, i - 1));
	if (htab__init(&x->table, n))
		return errmsg__set(e, -ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		uint64_t id = id_index__id(x, i);

		if (id == 0)
			return errmsg__set(e, -EINVAL, "%s %zu has id 0", what, i);
		if (htab__find(&x->table, id__hash(id), id__eq, x, &id) >= 0)
			return errmsg__set(e, -EINVAL, "%s id %" PRIu64 " is used twice", what, id);
		if (htab__insert(&x->table, id__hash(id), (uint32_t)i))
			return errmsg__set(e, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Array index of id, or -1. */
static int64_t id_index__find(const struct id_index *x, uint64_t id)
{
	if (x->dense)
		return id >= 1 && id <= x->n ? (int64_t)(id - 1) : -1;
	return htab__find(&x->table, id__hash(id), id__eq, x, &id);
}

/* New id (1..N) of an old one; 0 stays 0 (no reference). */
static uint64_t id_index__renumber(const struct id_index *x, uint64_t id)
{
	return id ? (uint64_t)id_index__find(x, id) + 1 : 0;
}

/* The three id lookups of a profile. */
struct id_indexes {
	struct id_index maps, funcs, locs;
};

static void id_indexes__free(struct id_indexes *x)
{
	htab__free(&x->maps.table);
	htab__free(&x->funcs.table);
	htab__free(&x->locs.table);
}

static int id_indexes__build(struct id_indexes *x, const pprof_pb *pb, bool strict,
			     struct errmsg *e)
{
	int err;

	*x = (struct id_indexes){ 0 };
	err = id_index__build(&x->maps, "mapping", pb->mapping, pb->n_mapping,
			      offsetof(pprof_mapping_pb, id), strict, e);
	if (!err)
		err = id_index__build(&x->funcs, "function", pb->function, pb->n_function,
				      offsetof(pprof_function_pb, id), strict, e);
	if (!err)
		err = id_index__build(&x->locs, "location", pb->location, pb->n_location,
				      offsetof(pprof_location_pb, id), strict, e);
	if (err)
		id_indexes__free(x);
	return err;
}

/* Ids 1..N in array order, every reference rewritten. */
static void id_indexes__renumber(const struct id_indexes *x, pprof_pb *pb)
{
	size_t i, j;

	if (x->maps.dense && x->funcs.dense && x->locs.dense)
		return;
	/* References first, while the old ids still resolve. */
	for (i = 0; i < pb->n_location; i++) {
		pprof_location_pb *l = pb->location[i];

		l->mapping_id = id_index__renumber(&x->maps, l->mapping_id);
		for (j = 0; j < l->n_line; j++)
			l->line[j]->function_id = id_index__renumber(&x->funcs,
								     l->line[j]->function_id);
	}
	for (i = 0; i < pb->n_sample; i++) {
		pprof_sample_pb *s = pb->sample[i];

		for (j = 0; j < s->n_location_id; j++)
			s->location_id[j] = id_index__renumber(&x->locs, s->location_id[j]);
	}
	for (i = 0; i < pb->n_mapping; i++)
		pb->mapping[i]->id = i + 1;
	for (i = 0; i < pb->n_function; i++)
		pb->function[i]->id = i + 1;
	for (i = 0; i < pb->n_location; i++)
		pb->location[i]->id = i + 1;
}

#define CHECK_STR(idx, ...)                                                              \
	do {                                                                             \
		if ((idx) < 0 || (uint64_t)(idx) >= pb->n_string_table) {               \
			char where_[128];                                                \
			snprintf(where_, sizeof(where_), __VA_ARGS__);                   \
			return errmsg__set(e, -EINVAL, "string index %" PRId64           \
					   " out of range (table has %zu) in %s",        \
					   (int64_t)(idx), pb->n_string_table, where_);  \
		}                                                                        \
	} while (0)

/* Every rule but the id ones, which building x checked. */
static int profile__check(const pprof_pb *pb, const struct id_indexes *x, int strict,
			  struct errmsg *e)
{
	size_t i, j;

	for (i = 0; i < pb->n_sample_type; i++) {
		CHECK_STR(pb->sample_type[i]->type, "sample_type %zu", i);
		CHECK_STR(pb->sample_type[i]->unit, "sample_type %zu", i);
	}
	if (pb->period_type) {
		CHECK_STR(pb->period_type->type, "period_type");
		CHECK_STR(pb->period_type->unit, "period_type");
	}
	CHECK_STR(pb->drop_frames, "drop_frames");
	CHECK_STR(pb->keep_frames, "keep_frames");
	CHECK_STR(pb->default_sample_type, "default_sample_type");
	CHECK_STR(pb->doc_url, "doc_url");
	for (i = 0; i < pb->n_comment; i++)
		CHECK_STR(pb->comment[i], "comment %zu", i);

	for (i = 0; i < pb->n_mapping; i++) {
		const pprof_mapping_pb *m = pb->mapping[i];

		CHECK_STR(m->filename, "mapping %" PRIu64 " filename", m->id);
		CHECK_STR(m->build_id, "mapping %" PRIu64 " build_id", m->id);
	}
	for (i = 0; i < pb->n_function; i++) {
		const pprof_function_pb *f = pb->function[i];

		CHECK_STR(f->name, "function %" PRIu64 " name", f->id);
		CHECK_STR(f->system_name, "function %" PRIu64 " system_name", f->id);
		CHECK_STR(f->filename, "function %" PRIu64 " filename", f->id);
	}
	for (i = 0; i < pb->n_location; i++) {
		const pprof_location_pb *l = pb->location[i];

		if (l->mapping_id && id_index__find(&x->maps, l->mapping_id) < 0)
			return errmsg__set(e, -EINVAL, "location %" PRIu64 " refers to mapping %"
					   PRIu64 ", which does not exist", l->id, l->mapping_id);
		for (j = 0; j < l->n_line; j++) {
			uint64_t fid = l->line[j]->function_id;

			/* google/pprof: "has a line with nil function" */
			if (!fid)
				return errmsg__set(e, -EINVAL, "location %" PRIu64 " line %zu has "
						   "no function (function_id 0)", l->id, j);
			if (id_index__find(&x->funcs, fid) < 0)
				return errmsg__set(e, -EINVAL, "location %" PRIu64 " refers to "
						   "function %" PRIu64 ", which does not exist",
						   l->id, fid);
		}
	}
	for (i = 0; i < pb->n_sample; i++) {
		const pprof_sample_pb *s = pb->sample[i];

		if (s->n_value != pb->n_sample_type)
			return errmsg__set(e, -EINVAL, "sample %zu has %zu values for %zu sample "
					   "types", i, s->n_value, pb->n_sample_type);
		for (j = 0; j < s->n_location_id; j++)
			if (id_index__find(&x->locs, s->location_id[j]) < 0)
				return errmsg__set(e, -EINVAL, "sample %zu refers to location %"
						   PRIu64 ", which does not exist", i,
						   s->location_id[j]);
		for (j = 0; j < s->n_label; j++) {
			const pprof_label_pb *l = s->label[j];

			CHECK_STR(l->key, "sample %zu label %zu key", i, j);
			CHECK_STR(l->str, "sample %zu label %zu", i, j);
			CHECK_STR(l->num_unit, "sample %zu label %zu unit", i, j);
			if (strict && l->str && (l->num || l->num_unit))
				return errmsg__set(e, -EINVAL, "sample %zu label \"%s\" has both a "
						   "string and a number", i, pprof__str(pb, l->key));
		}
	}
	return 0;
}

static int profile__check_header(const pprof_pb *pb, struct errmsg *e)
{
	if (pb->n_string_table == 0)
		return errmsg__set(e, -EINVAL, "string table is empty (string_table[0] must be \"\")");
	if (pb->string_table[0][0])
		return errmsg__set(e, -EINVAL, "string_table[0] is \"%.40s\", not \"\"",
				   pb->string_table[0]);
	if (pb->n_sample && !pb->n_sample_type)
		return errmsg__set(e, -EINVAL, "profile has samples but no sample_type");
	if (pb->n_sample_type > PPROF_MAX_SAMPLE_TYPES)
		return errmsg__set(e, -E2BIG, "%zu sample types (limit %u)", pb->n_sample_type,
				   PPROF_MAX_SAMPLE_TYPES);
	return 0;
}

int pprof__validate(const pprof_pb *pb, int strict, struct errmsg *e)
{
	struct id_indexes x;
	int err;

	err = profile__check_header(pb, e);
	if (err)
		return err;
	err = id_indexes__build(&x, pb, strict, e);
	if (err)
		return err;
	err = profile__check(pb, &x, strict, e);
	id_indexes__free(&x);
	return err;
}

int pprof__adopt(pprof_pb *pb, struct errmsg *e)
{
	struct id_indexes x;
	size_t i, j;
	int err;

	err = profile__check_header(pb, e);
	if (err)
		return err;
	err = id_indexes__build(&x, pb, false, e);
	if (err)
		return err;
	/* What google/pprof reads as absent: a reference to a mapping that
	 * does not exist, and a label's number beside its string. */
	for (i = 0; i < pb->n_location; i++)
		if (pb->location[i]->mapping_id &&
		    id_index__find(&x.maps, pb->location[i]->mapping_id) < 0)
			pb->location[i]->mapping_id = 0;
	for (i = 0; i < pb->n_sample; i++)
		for (j = 0; j < pb->sample[i]->n_label; j++) {
			pprof_label_pb *l = pb->sample[i]->label[j];

			if (l->str) {
				l->num = 0;
				l->num_unit = 0;
			}
		}
	err = profile__check(pb, &x, 0, e);
	if (!err)
		id_indexes__renumber(&x, pb);
	id_indexes__free(&x);
	return err;
}

int pprof__normalize_ids(struct pprof_profile *p)
{
	struct id_indexes x;
	int err;

	err = id_indexes__build(&x, p->pb, false, NULL);
	if (err)
		return err;
	id_indexes__renumber(&x, p->pb);
	id_indexes__free(&x);
	return 0;
}

int pprof__move_mapping_first(struct pprof_profile *p, size_t index)
{
	pprof_mapping_pb *m;

	if (index >= p->pb->n_mapping)
		return -EINVAL;
	m = p->pb->mapping[index];
	memmove(p->pb->mapping + 1, p->pb->mapping, index * sizeof(*p->pb->mapping));
	p->pb->mapping[0] = m;
	return pprof__normalize_ids(p);
}
