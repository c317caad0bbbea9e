/* Private to convert/: the legacy profile as the readers of google/pprof's
 * legacy formats collect it (raw samples over addresses, a memory map), and
 * the steps google/pprof takes from there to a profile: mappings from the
 * map text, locations assigned to them, ids, drop/keep frames. The readers
 * differ only in how they fill it. */
#ifndef BPPROF_CONVERT_LEGACY_H
#define BPPROF_CONVERT_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "base/htab.h"
#include "base/strmap.h"
#include "convert/internal.h"
#include "pprof/builder.h"

#define LEGACY_MAX_TYPES	4u
#define LEGACY_MAX_SAMPLES	PPROF_MAX_SAMPLES
#define LEGACY_MAX_LOCATIONS	PPROF_MAX_LOCATIONS
#define LEGACY_MAX_MAPPINGS	PPROF_MAX_MAPPINGS
#define LEGACY_MAX_ATTRS	256u		/* "$name=value" substitutions in a memory map */
#define LEGACY_MAX_TEXT		(256u << 20)	/* names, paths and units together */
#define LEGACY_QUOTE		60		/* bytes of a bad line quoted in errors */
#define LEGACY_NONE		UINT32_MAX

struct legacy_loc {
	uint64_t addr;
	uint32_t mapping;	/* index into maps, or LEGACY_NONE */
	uint32_t func;		/* Java: index into funcs, or LEGACY_NONE */
	int64_t line;
	bool used;		/* reached by a sample when finishing */
	bool resolved;		/* Java: named by the profile's own location list */
};

struct legacy_sample {
	size_t first;		/* into stack: leaf first */
	uint32_t n;
	int64_t v[LEGACY_MAX_TYPES];
	int64_t bytes;		/* the "bytes" label, when has_bytes */
	bool has_bytes;
};

struct legacy_map {
	uint64_t start, limit, offset;
	uint32_t file, build_id;	/* indexes into text, LEGACY_NONE: "" */
};

struct legacy_func {
	uint32_t name, file;		/* indexes into text */
};

struct legacy {
	const char *what;		/* "heap profile", for messages */
	/* sample and period types: indexes into text */
	uint32_t type[LEGACY_MAX_TYPES], unit[LEGACY_MAX_TYPES];
	size_t n_types;
	uint32_t period_type, period_unit;	/* LEGACY_NONE: no period type */
	int64_t period, duration;
	const char *drop, *keep;

	struct legacy_loc *locs;
	size_t n_locs, cap_locs;
	struct htab loc_index;		/* by address */

	uint32_t *stack;
	size_t n_stack, cap_stack;
	struct legacy_sample *samples;
	size_t n_samples, cap_samples;

	struct legacy_map *maps;
	size_t n_maps, cap_maps;
	bool fake_map;			/* a location lies in no mapping: maps[n_maps - 1] */
	bool no_addresses;		/* Java: pprof keeps names, not addresses */

	struct legacy_func *funcs;
	size_t n_funcs, cap_funcs;
	struct strmap func_names;	/* name -> index into funcs */

	struct strmap text;
	struct tally deep;
};

/* The drop/keep frame expressions google/pprof gives each kind of profile. */
extern const char legacy__drop_alloc[], legacy__keep_alloc[], legacy__drop_lock[],
	legacy__drop_cpu[];

int legacy__init(struct legacy *lg, const char *what);
void legacy__free(struct legacy *lg);

/* A string kept for the profile: its index, or LEGACY_NONE after -ENOMEM/-E2BIG
 * (then *err is set). */
uint32_t legacy__text(struct legacy *lg, const char *s, size_t len, int *err);
static inline const char *legacy__str(const struct legacy *lg, uint32_t i)
{
	return i == LEGACY_NONE ? "" : strmap__key(&lg->text, i);
}
int legacy__set_types(struct legacy *lg, const char *const *types, const char *const *units,
		      size_t n);
int legacy__set_period_type(struct legacy *lg, const char *type, const char *unit);

/* The location of addr (one per address): its index, or a negative errno. */
int64_t legacy__loc(struct legacy *lg, uint64_t addr);
/* Its index when there is one, else -1. */
int64_t legacy__find_loc(const struct legacy *lg, uint64_t addr);
/* A sample over the locations of addrs (leaf first), n_types values. Stacks
 * deeper than CONVERT_MAX_FRAMES keep their leaf end (counted in deep). */
int legacy__add_sample(struct legacy *lg, const uint64_t *addrs, size_t n, const int64_t *v,
		       const int64_t *bytes, size_t line_no);
/* Java's functions, one per name (the first file named with it wins, as in
 * google/pprof). Index or negative errno. */
int64_t legacy__func(struct legacy *lg, const char *name, size_t name_len, const char *file,
		     size_t file_len);

/* The memory map: /proc/PID/maps lines or the brief "START-END: FILE" form,
 * "name=value" substitutions for "$name", glog prefixes. Executable mappings
 * only; adjacent pieces of one file merge; the main binary goes first.
 * first_line numbers the text's lines in messages. -EBADMSG on a line that
 * is none of these. */
int legacy__parse_maps(struct legacy *lg, const char *text, size_t len, size_t first_line,
		       struct errmsg *e);

/* Which locations samples reach, in the order they first do, and the
 * mapping of each (a catch-all one for addresses in none). */
int legacy__assign_mappings(struct legacy *lg);
/* CPU and thread profiles: a leaf seen twice (from the signal context and
 * from unwinding, the second adjusted by -1) is kept once. */
void legacy__drop_duplicate_leaves(struct legacy *lg);

/* Go-style strconv.ParseInt(s, base, 64) for base 10, or 0 (prefixes 0x, 0o,
 * 0b, a leading 0 for octal, '_' between digits): 0 or -EINVAL/-ERANGE. */
int legacy__parse_int(const char *s, size_t len, int base, int64_t *out);
/* Every "0x" followed by lowercase hex digits in s, in order, as google/pprof
 * picks addresses out of text: *n of them, the first max stored. -ERANGE
 * when one is past 64 bits. */
int legacy__hex_addrs(const char *s, size_t len, uint64_t *addrs, size_t max, size_t *n);
/* Unsampling of a heap sample taken at mean interval rate (google/pprof's
 * scaleHeapSample): -ERANGE when the estimate does not fit. */
int legacy__unsample(int64_t *count, int64_t *size, int64_t rate);

/* The profile, once every sample is in. */
int legacy__finish(struct legacy *lg, struct pprof_profile **out, struct errmsg *e);

/* The first line that is not blank or a '#' comment: false when there is
 * none. Every legacy text reader skips these, as format detection does. */
bool legacy__first_line(struct text_iter *it, struct text_line *l);
/* Go's \s (no \v), and strings.TrimSpace's ASCII part. */
bool legacy__is_space(char c);
void legacy__trim(const char **s, size_t *len);
/* The text reader of each section: addresses and values on lines. */
int legacy_java__locations(struct legacy *lg, const char *text, size_t len, size_t first_line,
			   struct errmsg *e);

/* The binary CPU profile's header: word size, byte order, kind, period. */
struct legacy_cpu_format {
	unsigned word;		/* 4 or 8 bytes */
	bool big, java;
	uint64_t period_us;
};

bool legacy_cpu__header(const void *data, size_t len, struct legacy_cpu_format *f);
/* java_only: --from java, which a C++ CPU profile is not. */
int legacy_cpu__parse(const char *data, size_t len, bool java_only, struct pprof_profile **out,
		      struct errmsg *e);

/* One quoted line for messages: at most LEGACY_QUOTE bytes of it. */
#define LEGACY_Q(s, len) (int)((len) > LEGACY_QUOTE ? LEGACY_QUOTE : (len)), (s)

#endif
