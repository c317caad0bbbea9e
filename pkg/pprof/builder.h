/* Builds a pprof profile sample by sample. Strings, mappings, functions,
 * locations and whole samples are interned through hash tables, so identical
 * samples add up and ids come out 1..N in array order. */
#ifndef BPPROF_PPROF_BUILDER_H
#define BPPROF_PPROF_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "pprof/profile.h"

struct pprof_builder;

struct pprof_value_type {
	const char *type;
	const char *unit;
};

struct pprof_mapping {
	uint64_t memory_start, memory_limit, file_offset;
	const char *filename;		/* NULL: "" */
	const char *build_id;		/* NULL: "" */
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct pprof_line {
	uint64_t function_id;
	int64_t line;
};

struct pprof_label {
	const char *key;
	const char *str;	/* NULL for a numeric label */
	int64_t num;
	const char *num_unit;	/* NULL: none */
};

/* n_types (at most PPROF_MAX_SAMPLE_TYPES) sample types, copied. */
struct pprof_builder *pprof_builder__new(const struct pprof_value_type *types, size_t n_types);
void pprof_builder__free(struct pprof_builder *b);

void pprof_builder__set_period(struct pprof_builder *b, const char *type, const char *unit,
			       int64_t period);
void pprof_builder__set_time(struct pprof_builder *b, int64_t time_nanos, int64_t duration_nanos);
int pprof_builder__set_default_sample_type(struct pprof_builder *b, const char *type);
/* drop_frames and keep_frames: regular expressions pprof applies to function
 * names (NULL: none). */
int pprof_builder__set_frames(struct pprof_builder *b, const char *drop, const char *keep);
int pprof_builder__add_comment(struct pprof_builder *b, const char *comment);

/* Interned ids (>= 1, in *id): 0, or the builder's error (-ENOMEM, or
 * -EINVAL for a location naming a mapping or function it does not have). An
 * error sticks: every later call and pprof_builder__finish return it. */
int pprof_builder__mapping(struct pprof_builder *b, const struct pprof_mapping *m, uint64_t *id);
int pprof_builder__function(struct pprof_builder *b, const char *name, const char *system_name,
			    const char *filename, int64_t start_line, uint64_t *id);
/* lines: innermost first, the last one is the caller (pprof's order). */
int pprof_builder__location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address,
			    const struct pprof_line *lines, size_t n_lines, uint64_t *id);

/* Add values (n_types of them) to the sample with these locations (leaf
 * first) and labels, creating it on first sight. Label keys starting
 * "pprof::" are reserved and refused with -EINVAL; values that would add up
 * past 64 bits with -ERANGE, leaving the sample as it was. */
int pprof_builder__add_sample(struct pprof_builder *b, const uint64_t *locations, size_t n_locations,
			      const int64_t *values, const struct pprof_label *labels,
			      size_t n_labels);

size_t pprof_builder__sample_count(const struct pprof_builder *b);

/* Hand over the finished profile; the builder is spent (free it). NULL and
 * errno on failure. */
struct pprof_profile *pprof_builder__finish(struct pprof_builder *b);

#endif
