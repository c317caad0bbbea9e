/* A pprof profile in memory: the protobuf-c message tree and the arena that
 * owns every byte of it. Builders, decoders, converters and encoders all speak
 * this one type. */
#ifndef BPPROF_PPROF_PROFILE_H
#define BPPROF_PPROF_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "proto/profile.pb-c.h"

typedef Perftools__Profiles__Profile pprof_pb;
typedef Perftools__Profiles__Sample pprof_sample_pb;
typedef Perftools__Profiles__Location pprof_location_pb;
typedef Perftools__Profiles__Function pprof_function_pb;
typedef Perftools__Profiles__Mapping pprof_mapping_pb;
typedef Perftools__Profiles__Line pprof_line_pb;
typedef Perftools__Profiles__Label pprof_label_pb;
typedef Perftools__Profiles__ValueType pprof_value_type_pb;

/* Bounds on what we decode (hostile input must not exhaust the machine). */
#define PPROF_MAX_DECODED_BYTES	(1ull << 30)	/* uncompressed protobuf */
#define PPROF_MAX_DECODE_MEMORY	(8ull << 30)	/* message tree from one input */
#define PPROF_MAX_SAMPLES	(64u << 20)
#define PPROF_MAX_LOCATIONS	(64u << 20)
#define PPROF_MAX_FUNCTIONS	(64u << 20)
#define PPROF_MAX_MAPPINGS	(1u << 20)
#define PPROF_MAX_STRINGS	(64u << 20)
#define PPROF_MAX_SAMPLE_TYPES	64u

struct arena;

struct pprof_profile {
	pprof_pb *pb;
	struct arena *arena;
};

void pprof__free(struct pprof_profile *p);

/* Check every rule google/pprof's parser enforces; strict adds what bpprof
 * writes: Parca's ids 1..N in order, no label with both a string and a
 * number. On failure the message names the rule and the place. */
int pprof__validate(const pprof_pb *pb, int strict, struct errmsg *e);

/* Take in a decoded profile as google/pprof reads it: drop what pprof
 * ignores (a reference to a missing mapping, a label's number beside its
 * string), check every rule, renumber ids 1..N. Afterwards it passes strict
 * validation. */
int pprof__adopt(pprof_pb *pb, struct errmsg *e);

/* Renumber mappings, functions and locations 1..N in array order where they
 * are not already, rewriting every reference. Run after validate. */
int pprof__normalize_ids(struct pprof_profile *p);

/* Make mapping[index] the first one, which pprof takes for the main binary
 * (its "File:" line), renumbering ids. */
int pprof__move_mapping_first(struct pprof_profile *p, size_t index);

/* The sample type index pprof shows by default: default_sample_type when
 * set and present, else the last one. */
size_t pprof__default_sample_index(const pprof_pb *pb);
/* Index of the sample type named type (e.g. "cpu"), or -1. */
int pprof__sample_index(const pprof_pb *pb, const char *type);

/* String i of the table (the caller has validated the profile). */
static inline const char *pprof__str(const pprof_pb *pb, int64_t i)
{
	return (i >= 0 && (size_t)i < pb->n_string_table) ? pb->string_table[i] : "";
}

#endif
