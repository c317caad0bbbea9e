/* Profile builder. Every table is a contiguous array plus a hash index over
 * it (design rule 6); ids are array index + 1, so they come out 1..N in
 * order as Parca requires. Errors are sticky: the first one is kept and
 * returned by every later call and by finish, so callers check once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/htab.h"
#include "base/strmap.h"
#include "pprof/builder.h"

/* A label in interned form: four string/number slots, hashed as one. */
struct label_key {
	int64_t key, str, num, num_unit;
};

struct sample_key {
	const uint64_t *locs;
	size_t n_locs;
	const struct label_key *labels;
	size_t n_labels;
};

struct pprof_builder {
	struct arena *arena;	/* everything the finished profile points at */
	int err;

	struct strmap strings;	/* string_table, in order */

	pprof_mapping_pb *mappings;
	size_t n_mappings, cap_mappings;
	struct htab mapping_index;

	pprof_function_pb *functions;
	size_t n_functions, cap_functions;
	struct htab function_index;

	pprof_location_pb *locations;
	size_t n_locations, cap_locations;
	struct htab location_index;

	pprof_sample_pb *samples;
	struct label_key **sample_labels;	/* interned labels of each sample */
	size_t n_samples, cap_samples, cap_sample_labels;
	struct htab sample_index;

	pprof_value_type_pb *sample_types;
	size_t n_types;
	pprof_value_type_pb period_type;
	int64_t period, time_nanos, duration_nanos, default_sample_type;
	int64_t drop_frames, keep_frames;
	int64_t *comments;
	size_t n_comments, cap_comments;

	struct label_key *scratch_labels;	/* add_sample's interned labels */
	size_t cap_scratch_labels;
};

static int builder__fail(struct pprof_builder *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

/* Interned string index; 0 for "" and NULL; the builder's error on failure. */
static int64_t builder__string(struct pprof_builder *b, const char *s, size_t len)
{
	size_t idx;
	int err;

	if (b->err)
		return b->err;
	if ((!s || !len) && b->strings.n)
		return 0;
	err = strmap__intern(&b->strings, s ? s : "", s ? len : 0, &idx);
	if (err < 0)
		return builder__fail(b, err);
	return (int64_t)idx;
}

static int64_t builder__cstring(struct pprof_builder *b, const char *s)
{
	return s ? builder__string(b, s, strlen(s)) : 0;
}

struct pprof_builder *pprof_builder__new(const struct pprof_value_type *types, size_t n_types)
{
	struct pprof_builder *b;
	size_t i;

	if (n_types > PPROF_MAX_SAMPLE_TYPES) {
		errno = E2BIG;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->arena = arena__new(0);
	if (!b->arena)
		goto err_free;
	/* A profile we could not read back is no use: bound it the same way. */
	if (strmap__init(&b->strings, PPROF_MAX_DECODED_BYTES) || htab__init(&b->mapping_index, 16) ||
	    htab__init(&b->function_index, 1024) || htab__init(&b->location_index, 1024) ||
	    htab__init(&b->sample_index, 1024))
		goto err_free;
	if (builder__string(b, "", 0) != 0)
		goto err_free;
	b->sample_types = arena__zalloc(b->arena, (n_types ? n_types : 1) * sizeof(*b->sample_types));
	if (!b->sample_types)
		goto err_free;
	b->n_types = n_types;
	for (i = 0; i < n_types; i++) {
		perftools__profiles__value_type__init(&b->sample_types[i]);
		b->sample_types[i].type = builder__string(b, types[i].type, strlen(types[i].type));
		b->sample_types[i].unit = builder__string(b, types[i].unit, strlen(types[i].unit));
	}
	perftools__profiles__value_type__init(&b->period_type);
	if (b->err)
		goto err_free;
	return b;

err_free:
	pprof_builder__free(b);
	errno = ENOMEM;
	return NULL;
}

void pprof_builder__free(struct pprof_builder *b)
{
	if (!b)
		return;
	strmap__free(&b->strings);
	htab__free(&b->mapping_index);
	htab__free(&b->function_index);
	htab__free(&b->location_index);
	htab__free(&b->sample_index);
	free(b->mappings);
	free(b->functions);
	free(b->locations);
	free(b->samples);
	free(b->sample_labels);
	free(b->comments);
	free(b->scratch_labels);
	arena__free(b->arena);
	free(b);
}

/* Strings */

/* Mappings */

static bool mapping__eq(const void *ctx, uint32_t idx, const void *key)
{
	const pprof_mapping_pb *a = &((const struct pprof_builder *)ctx)->mappings[idx], *m = key;

	return a->memory_start == m->memory_start && a->memory_limit == m->memory_limit &&
	       a->file_offset == m->file_offset && a->filename == m->filename &&
	       a->build_id == m->build_id && a->has_functions == m->has_functions &&
	       a->has_filenames == m->has_filenames && a->has_line_numbers == m->has_line_numbers &&
	       a->has_inline_frames == m->has_inline_frames;
}

int pprof_builder__mapping(struct pprof_builder *b, const struct pprof_mapping *m, uint64_t *id)
{
	pprof_mapping_pb k = PERFTOOLS__PROFILES__MAPPING__INIT;
	uint64_t words[5];
	uint32_t h;
	int64_t idx;

	k.memory_start = m->memory_start;
	k.memory_limit = m->memory_limit;
	k.file_offset = m->file_offset;
	k.filename = builder__cstring(b, m->filename);
	k.build_id = builder__cstring(b, m->build_id);
	k.has_functions = m->has_functions;
	k.has_filenames = m->has_filenames;
	k.has_line_numbers = m->has_line_numbers;
	k.has_inline_frames = m->has_inline_frames;
	if (b->err)
		goto err;
	words[0] = k.memory_start;
	words[1] = k.memory_limit;
	words[2] = k.file_offset;
	words[3] = (uint64_t)k.filename;
	words[4] = (uint64_t)k.build_id;
	h = htab__hash(words, sizeof(words), 1);
	idx = htab__find(&b->mapping_index, h, mapping__eq, b, &k);
	if (idx >= 0) {
		*id = (uint64_t)idx + 1;
		return 0;
	}
	if (BUF_GROW_ARRAY(b->mappings, b->cap_mappings, b->n_mappings + 1) ||
	    htab__insert(&b->mapping_index, h, (uint32_t)b->n_mappings)) {
		builder__fail(b, -ENOMEM);
		goto err;
	}
	k.id = b->n_mappings + 1;
	b->mappings[b->n_mappings++] = k;
	*id = k.id;
	return 0;
err:
	return b->err;
}

/* Functions */

static bool function__eq(const void *ctx, uint32_t idx, const void *key)
{
	const pprof_function_pb *a = &((const struct pprof_builder *)ctx)->functions[idx], *f = key;

	return a->name == f->name && a->system_name == f->system_name &&
	       a->filename == f->filename && a->start_line == f->start_line;
}

int pprof_builder__function(struct pprof_builder *b, const char *name, const char *system_name,
			    const char *filename, int64_t start_line, uint64_t *id)
{
	pprof_function_pb k = PERFTOOLS__PROFILES__FUNCTION__INIT;
	int64_t words[4], idx;
	uint32_t h;

	k.name = builder__cstring(b, name);
	k.system_name = builder__cstring(b, system_name);
	k.filename = builder__cstring(b, filename);
	k.start_line = start_line;
	if (b->err)
		goto err;
	words[0] = k.name;
	words[1] = k.system_name;
	words[2] = k.filename;
	words[3] = k.start_line;
	h = htab__hash(words, sizeof(words), 2);
	idx = htab__find(&b->function_index, h, function__eq, b, &k);
	if (idx >= 0) {
		*id = (uint64_t)idx + 1;
		return 0;
	}
	if (BUF_GROW_ARRAY(b->functions, b->cap_functions, b->n_functions + 1) ||
	    htab__insert(&b->function_index, h, (uint32_t)b->n_functions)) {
		builder__fail(b, -ENOMEM);
		goto err;
	}
	k.id = b->n_functions + 1;
	b->functions[b->n_functions++] = k;
	*id = k.id;
	return 0;
err:
	return b->err;
}

/* Locations */

struct location_key {
	uint64_t mapping_id, address;
	const struct pprof_line *lines;
	size_t n_lines;
};

static bool location__eq(const void *ctx, uint32_t idx, const void *key)
{
	const pprof_location_pb *a = &((const struct pprof_builder *)ctx)->locations[idx];
	const struct location_key *k = key;
	size_t i;

	if (a->mapping_id != k->mapping_id || a->address != k->address || a->n_line != k->n_lines)
		return false;
	for (i = 0; i < k->n_lines; i++)
		if (a->line[i]->function_id != k->lines[i].function_id ||
		    a->line[i]->line != k->lines[i].line)
			return false;
	return true;
}

int pprof_builder__location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
			    const struct pprof_line *lines, size_t n_lines, uint64_t *id)
{
	struct location_key k = { mapping_id, address, lines, n_lines };
	pprof_location_pb *loc;
	uint64_t h64;
	uint32_t h;
	int64_t idx;
	size_t i;

	if (b->err)
		goto err;
	if (mapping_id > b->n_mappings) {
		builder__fail(b, -EINVAL);
		goto err;
	}
	for (i = 0; i < n_lines; i++)
		if (lines[i].function_id == 0 || lines[i].function_id > b->n_functions) {
			builder__fail(b, -EINVAL);
			goto err;
		}
	h64 = XXH3_64bits_withSeed(lines, n_lines * sizeof(*lines), mapping_id * 31 + address);
	h = (uint32_t)(h64 ^ (h64 >> 32));
	idx = htab__find(&b->location_index, h, location__eq, b, &k);
	if (idx >= 0) {
		*id = (uint64_t)idx + 1;
		return 0;
	}
	if (BUF_GROW_ARRAY(b->locations, b->cap_locations, b->n_locations + 1))
		goto err_nomem;
	loc = &b->locations[b->n_locations];
	perftools__profiles__location__init(loc);
	loc->id = b->n_locations + 1;
	loc->mapping_id = mapping_id;
	loc->address = address;
	if (n_lines) {
		pprof_line_pb *l = arena__alloc(b->arena, n_lines * sizeof(*l));

		loc->line = arena__alloc(b->arena, n_lines * sizeof(*loc->line));
		if (!l || !loc->line)
			goto err_nomem;
		for (i = 0; i < n_lines; i++) {
			perftools__profiles__line__init(&l[i]);
			l[i].function_id = lines[i].function_id;
			l[i].line = lines[i].line;
			loc->line[i] = &l[i];
		}
		loc->n_line = n_lines;
	}
	if (htab__insert(&b->location_index, h, (uint32_t)b->n_locations))
		goto err_nomem;
	*id = ++b->n_locations;
	return 0;

err_nomem:
	builder__fail(b, -ENOMEM);
err:
	return b->err;
}

/* Samples */

static bool sample__eq(const void *ctx, uint32_t idx, const void *key)
{
	const struct pprof_builder *b = ctx;
	const pprof_sample_pb *s = &b->samples[idx];
	const struct sample_key *k = key;

	return s->n_location_id == k->n_locs && s->n_label == k->n_labels &&
	       (!k->n_locs || !memcmp(s->location_id, k->locs, k->n_locs * sizeof(*k->locs))) &&
	       (!k->n_labels ||
		!memcmp(b->sample_labels[idx], k->labels, k->n_labels * sizeof(*k->labels)));
}

static int builder__intern_labels(struct pprof_builder *b, const struct pprof_label *labels,
				  size_t n)
{
	size_t i;

	/* pprof reserves these keys for its own bookkeeping. Refuse before
	 * interning anything, so a refused sample adds no strings. */
	for (i = 0; i < n; i++)
		if (!labels[i].key || !labels[i].key[0] || !strncmp(labels[i].key, "pprof::", 7))
			return -EINVAL;
	if (BUF_GROW_ARRAY(b->scratch_labels, b->cap_scratch_labels, n ? n : 1))
		return builder__fail(b, -ENOMEM);
	for (i = 0; i < n; i++) {
		struct label_key *l = &b->scratch_labels[i];

		l->key = builder__cstring(b, labels[i].key);
		l->str = builder__cstring(b, labels[i].str);
		l->num = labels[i].str ? 0 : labels[i].num;
		l->num_unit = labels[i].str ? 0 : builder__cstring(b, labels[i].num_unit);
	}
	return b->err;
}

int pprof_builder__add_sample(struct pprof_builder *b, const uint64_t *locations, size_t n_locations,
			      const int64_t *values, const struct pprof_label *labels,
			      size_t n_labels)
{
	struct sample_key k = { locations, n_locations, NULL, n_labels };
	pprof_sample_pb *s;
	uint32_t h;
	int64_t idx;
	size_t i;
	int err;

	if (b->err)
		return b->err;
	for (i = 0; i < n_locations; i++)
		if (locations[i] == 0 || locations[i] > b->n_locations)
			return -EINVAL;
	err = builder__intern_labels(b, labels, n_labels);
	if (err)
		return err;
	k.labels = b->scratch_labels;
	h = htab__hash(n_locations ? (const void *)locations : "", n_locations * sizeof(*locations),
			n_labels ? XXH3_64bits(k.labels, n_labels * sizeof(*k.labels)) : 3);
	idx = htab__find(&b->sample_index, h, sample__eq, b, &k);
	if (idx >= 0) {
		int64_t sum[PPROF_MAX_SAMPLE_TYPES];

		/* Check every value before changing any: a refused sample
		 * leaves the profile as it was. */
		s = &b->samples[idx];
		for (i = 0; i < b->n_types; i++)
			if (__builtin_add_overflow(s->value[i], values[i], &sum[i]))
				return -ERANGE;
		memcpy(s->value, sum, b->n_types * sizeof(*sum));
		return 0;
	}
	if (BUF_GROW_ARRAY(b->samples, b->cap_samples, b->n_samples + 1) ||
	    BUF_GROW_ARRAY(b->sample_labels, b->cap_sample_labels, b->n_samples + 1))
		return builder__fail(b, -ENOMEM);
	s = &b->samples[b->n_samples];
	perftools__profiles__sample__init(s);
	s->location_id = arena__alloc(b->arena, (n_locations ? n_locations : 1) * sizeof(uint64_t));
	s->value = arena__alloc(b->arena, (b->n_types ? b->n_types : 1) * sizeof(int64_t));
	b->sample_labels[b->n_samples] = NULL;
	if (!s->location_id || !s->value)
		return builder__fail(b, -ENOMEM);
	if (n_locations)
		memcpy(s->location_id, locations, n_locations * sizeof(*locations));
	memcpy(s->value, values, b->n_types * sizeof(*values));
	s->n_location_id = n_locations;
	s->n_value = b->n_types;
	if (n_labels) {
		struct label_key *lk = arena__alloc(b->arena, n_labels * sizeof(*lk));
		pprof_label_pb *l = arena__alloc(b->arena, n_labels * sizeof(*l));

		s->label = arena__alloc(b->arena, n_labels * sizeof(*s->label));
		if (!lk || !l || !s->label)
			return builder__fail(b, -ENOMEM);
		memcpy(lk, k.labels, n_labels * sizeof(*lk));
		for (i = 0; i < n_labels; i++) {
			perftools__profiles__label__init(&l[i]);
			l[i].key = lk[i].key;
			l[i].str = lk[i].str;
			l[i].num = lk[i].num;
			l[i].num_unit = lk[i].num_unit;
			s->label[i] = &l[i];
		}
		s->n_label = n_labels;
		b->sample_labels[b->n_samples] = lk;
	}
	if (htab__insert(&b->sample_index, h, (uint32_t)b->n_samples))
		return builder__fail(b, -ENOMEM);
	b->n_samples++;
	return 0;
}

size_t pprof_builder__sample_count(const struct pprof_builder *b) { return b->n_samples; }

void pprof_builder__set_period(struct pprof_builder *b, const char *type, const char *unit,
			       int64_t period)
{
	b->period_type.type = builder__cstring(b, type);
	b->period_type.unit = builder__cstring(b, unit);
	b->period = period;
}

void pprof_builder__set_time(struct pprof_builder *b, int64_t time_nanos, int64_t duration_nanos)
{
	b->time_nanos = time_nanos;
	b->duration_nanos = duration_nanos;
}

int pprof_builder__set_default_sample_type(struct pprof_builder *b, const char *type)
{
	b->default_sample_type = builder__cstring(b, type);
	return b->err;
}

int pprof_builder__set_frames(struct pprof_builder *b, const char *drop, const char *keep)
{
	b->drop_frames = builder__cstring(b, drop);
	b->keep_frames = builder__cstring(b, keep);
	return b->err;
}

int pprof_builder__add_comment(struct pprof_builder *b, const char *comment)
{
	int64_t s = builder__cstring(b, comment);

	if (b->err)
		return b->err;
	if (BUF_GROW_ARRAY(b->comments, b->cap_comments, b->n_comments + 1))
		return builder__fail(b, -ENOMEM);
	b->comments[b->n_comments++] = s;
	return 0;
}

/* Copy a contiguous array of messages into the arena and point at each. */
static void **builder__pointers(struct pprof_builder *b, void *items, size_t n, size_t size)
{
	void **ptrs;
	char *copy;
	size_t i;

	if (!n)
		return NULL;
	ptrs = arena__alloc(b->arena, n * sizeof(*ptrs));
	copy = arena__alloc(b->arena, n * size);
	if (!ptrs || !copy) {
		builder__fail(b, -ENOMEM);
		return NULL;
	}
	memcpy(copy, items, n * size);
	for (i = 0; i < n; i++)
		ptrs[i] = copy + i * size;
	return ptrs;
}

struct pprof_profile *pprof_builder__finish(struct pprof_builder *b)
{
	struct pprof_profile *p;
	pprof_pb *pb;
	char *text;
	size_t i;

	if (b->err)
		goto err;
	pb = arena__alloc(b->arena, sizeof(*pb));
	p = calloc(1, sizeof(*p));
	if (!pb || !p) {
		free(p);
		builder__fail(b, -ENOMEM);
		goto err;
	}
	perftools__profiles__profile__init(pb);
	pb->sample_type = (pprof_value_type_pb **)builder__pointers(b, b->sample_types, b->n_types,
								    sizeof(*b->sample_types));
	pb->n_sample_type = b->n_types;
	pb->sample = (pprof_sample_pb **)builder__pointers(b, b->samples, b->n_samples,
							   sizeof(*b->samples));
	pb->n_sample = b->n_samples;
	pb->mapping = (pprof_mapping_pb **)builder__pointers(b, b->mappings, b->n_mappings,
							     sizeof(*b->mappings));
	pb->n_mapping = b->n_mappings;
	pb->location = (pprof_location_pb **)builder__pointers(b, b->locations, b->n_locations,
							       sizeof(*b->locations));
	pb->n_location = b->n_locations;
	pb->function = (pprof_function_pb **)builder__pointers(b, b->functions, b->n_functions,
							       sizeof(*b->functions));
	pb->n_function = b->n_functions;
	pb->string_table = arena__alloc(b->arena, b->strings.n * sizeof(char *));
	text = arena__alloc(b->arena, b->strings.text.len);
	if (pb->string_table && text) {
		memcpy(text, b->strings.text.data, b->strings.text.len);
		for (i = 0; i < b->strings.n; i++)
			pb->string_table[i] = text + b->strings.items[i].off;
		pb->n_string_table = b->strings.n;
	}
	if (b->period_type.type || b->period_type.unit) {
		pb->period_type = arena__alloc(b->arena, sizeof(*pb->period_type));
		if (pb->period_type)
			*pb->period_type = b->period_type;
	}
	pb->period = b->period;
	pb->time_nanos = b->time_nanos;
	pb->duration_nanos = b->duration_nanos;
	pb->default_sample_type = b->default_sample_type;
	pb->drop_frames = b->drop_frames;
	pb->keep_frames = b->keep_frames;
	if (b->n_comments) {
		pb->comment = arena__alloc(b->arena, b->n_comments * sizeof(*pb->comment));
		if (pb->comment) {
			memcpy(pb->comment, b->comments, b->n_comments * sizeof(*pb->comment));
			pb->n_comment = b->n_comments;
		}
	}
	if (b->err || !pb->string_table || !text || ((b->period_type.type || b->period_type.unit) &&
					    !pb->period_type) || (b->n_comments && !pb->comment)) {
		free(p);
		builder__fail(b, -ENOMEM);
		goto err;
	}
	p->pb = pb;
	p->arena = b->arena;
	b->arena = NULL;
	return p;
err:
	errno = -b->err;
	return NULL;
}
