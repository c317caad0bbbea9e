/* The binary CPU profile of gperftools (CPUPROFILE), also written by Go
 * before 1.9 and by Java agents: words of 32 or 64 bits in either byte
 * order; a header (0, 3, 0 for C++ or 1 for Java, the sampling period in
 * microseconds, 0); records of COUNT, DEPTH and DEPTH addresses, the leaf
 * first; the record 0, 1, 0 ending them; then the process's memory map as
 * text (C++) or the Java agent's location names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "convert/legacy.h"

#define CPU_HEADER_WORDS	5
#define CPU_NSEC_PER_USEC	1000u
/* A signal handler frame under most leaves is the profiler's own: up to
 * this many such frames are stripped, when all but one sample in
 * CPU_SIMILAR_SAMPLES share it (google/pprof's heuristic). */
#define CPU_MAX_STRIPPED	2
#define CPU_SIMILAR_SAMPLES	32

static uint64_t cpu__word(const struct legacy_cpu_format *f, const unsigned char *p)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < f->word; i++)
		v |= (uint64_t)p[f->big ? f->word - 1 - i : i] << (8 * i);
	return v;
}

/* The header in pprof's order of trial: 32-bit little-endian first. */
bool legacy_cpu__header(const void *data, size_t len, struct legacy_cpu_format *f)
{
	static const struct { unsigned word; bool big; } kinds[] = {
		{ 4, false }, { 4, true }, { 8, false }, { 8, true },
	};
	uint64_t w[CPU_HEADER_WORDS];
	size_t k, i;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		f->word = kinds[k].word;
		f->big = kinds[k].big;
		if (len < CPU_HEADER_WORDS * f->word)
			continue;
		for (i = 0; i < CPU_HEADER_WORDS; i++)
			w[i] = cpu__word(f, (const unsigned char *)data + i * f->word);
		if (w[0] == 0 && w[1] == 3 && w[2] <= 1 && w[3] > 0 && w[4] == 0) {
			f->java = w[2] == 1;
			f->period_us = w[3];
			return true;
		}
	}
	return false;
}

/* Records up to the end marker: where the text after it starts. */
static int cpu__samples(struct legacy *lg, const struct legacy_cpu_format *f, const char *data,
			size_t len, size_t *pos, struct errmsg *e)
{
	const unsigned char *p = (const unsigned char *)data;
	uint64_t *addrs = calloc(CONVERT_MAX_FRAMES + 1, sizeof(*addrs));
	uint64_t count, depth, i, period = (uint64_t)lg->period;
	size_t at, n_rec = 0, kept;
	int64_t v[2];
	bool end = false;
	int err = 0;

	if (!addrs)
		return errmsg__set(e, -ENOMEM, "out of memory");
	while (*pos < len) {
		at = *pos;
		if (len - at < 2 * f->word) {
			err = errmsg__set(e, -EBADMSG, "cut short after %zu samples (%zu bytes left at "
					  "byte %zu)", n_rec, len - at, at);
			break;
		}
		count = cpu__word(f, p + at);
		depth = cpu__word(f, p + at + f->word);
		if (depth > (len - at - 2 * f->word) / f->word) {
			err = errmsg__set(e, -EBADMSG, "sample %zu at byte %zu has %llu frames but only "
					  "%zu bytes follow: cut short or corrupt", n_rec, at,
					  (unsigned long long)depth, len - at - 2 * f->word);
			break;
		}
		*pos = at + (size_t)(2 + depth) * f->word;
		kept = depth > CONVERT_MAX_FRAMES ? CONVERT_MAX_FRAMES + 1 : (size_t)depth;
		for (i = 0; i < kept; i++) {
			addrs[i] = cpu__word(f, p + at + (size_t)(2 + i) * f->word);
			/* a return address: the call is the byte before; not the
			 * leaf, which the signal saw executing. Java ids are no
			 * addresses. */
			if (i && !f->java)
				addrs[i]--;
		}
		if (count == 0 && depth == 1 && addrs[0] == 0) {
			end = true;
			break;
		}
		/* values wrap as pprof's int64 arithmetic does */
		v[0] = (int64_t)count;
		v[1] = (int64_t)(count * period);
		err = legacy__add_sample(lg, addrs, kept, v, NULL, n_rec + 1);
		if (err) {
			err = errmsg__set(e, err, "sample %zu: %s", n_rec, strerror(-err));
			break;
		}
		n_rec++;
	}
	/* the profiler writes the end record when it stops: without it the
	 * file was cut at a record's end */
	if (!err && !end)
		err = errmsg__set(e, -EBADMSG, "no end record after %zu samples: cut short", n_rec);
	free(addrs);
	return err;
}

/* Most samples carry the same frame right above the leaf: the profiler's
 * signal frame, not the program's. Strip it (twice at most). */
static int cpu__strip_signal_frames(struct legacy *lg)
{
	uint32_t *seen = calloc(lg->n_locs ? lg->n_locs : 1, sizeof(*seen));
	size_t margin = lg->n_samples / CPU_SIMILAR_SAMPLES, i, round;
	int64_t found;

	if (!seen)
		return -ENOMEM;
	for (round = 0; round < CPU_MAX_STRIPPED; round++) {
		memset(seen, 0, (lg->n_locs ? lg->n_locs : 1) * sizeof(*seen));
		found = -1;
		for (i = 0; i < lg->n_samples; i++) {
			const struct legacy_sample *s = &lg->samples[i];
			uint32_t second;

			if (s->n < 2)
				continue;
			second = lg->stack[s->first + 1];
			if (++seen[second] >= lg->n_samples - margin)
				found = second;
		}
		if (found < 0)
			continue;
		for (i = 0; i < lg->n_samples; i++) {
			struct legacy_sample *s = &lg->samples[i];
			uint32_t *st = lg->stack + s->first;

			if (s->n > 1 && st[1] == (uint32_t)found) {
				memmove(st + 1, st + 2, (s->n - 2) * sizeof(*st));
				s->n--;
			}
		}
	}
	free(seen);
	return 0;
}

static int cpu__begin(struct legacy *lg, const struct legacy_cpu_format *f)
{
	static const char *const types[] = { "samples", "cpu" };
	static const char *const units[] = { "count", "nanoseconds" };
	int err = legacy__set_types(lg, types, units, 2);

	if (!err)
		err = legacy__set_period_type(lg, "cpu", "nanoseconds");
	lg->period = (int64_t)(f->period_us * CPU_NSEC_PER_USEC);
	lg->drop = legacy__drop_cpu;
	return err;
}

int legacy_cpu__parse(const char *data, size_t len, bool java_only, struct pprof_profile **out,
		      struct errmsg *e)
{
	struct legacy_cpu_format f;
	struct legacy lg;
	size_t pos;
	int err;

	*out = NULL;
	if (!legacy_cpu__header(data, len, &f))
		return errmsg__set(e, -EBADMSG, "no CPU profile header (words 0, 3, 0 or 1, the "
				   "period, 0; 32 or 64 bits, either byte order)");
	if (java_only && !f.java)
		return errmsg__set(e, -EBADMSG, "a C++ CPU profile, not a Java one "
				   "(--from gperftools-cpu)");
	err = legacy__init(&lg, f.java ? "Java CPU profile" : "CPU profile");
	if (!err)
		err = cpu__begin(&lg, &f);
	if (err) {
		err = errmsg__set(e, err, "out of memory");
		goto out;
	}
	pos = CPU_HEADER_WORDS * f.word;
	err = cpu__samples(&lg, &f, data, len, &pos, e);
	if (err)
		goto out;
	/* the text after the end marker */
	if (f.java) {
		err = legacy_java__locations(&lg, data + pos, len - pos, 1, e);
	} else {
		err = cpu__strip_signal_frames(&lg);
		if (err) {
			err = errmsg__set(e, err, "out of memory");
			goto out;
		}
		err = legacy__parse_maps(&lg, data + pos, len - pos, 1, e);
		if (!err) {
			err = legacy__assign_mappings(&lg);
			if (err)
				err = errmsg__set(e, err, "%s", strerror(-err));
		}
		if (!err)
			legacy__drop_duplicate_leaves(&lg);
	}
	if (err && !strncmp(e->text, "line ", 5)) {
		char why[ERRMSG_MAX];

		snprintf(why, sizeof(why), "%s", e->text);
		errmsg__set(e, err, "the %s after the samples (byte %zu on): %s",
			    f.java ? "location names" : "memory map", pos, why);
	}
	if (!err)
		err = legacy__finish(&lg, out, e);
out:
	legacy__free(&lg);
	return err;
}

int legacy_cpu__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e)
{
	return legacy_cpu__parse(data, len, false, out, e);
}
