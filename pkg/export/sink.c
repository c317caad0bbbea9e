/* Profiles to files, pprof or folded, through the atomic writer. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "export/sink.h"
#include "fileio/out_file.h"
#include "pprof/codec.h"
#include "pprof/folded.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

enum compress_kind sink__output_compression(const char *output, enum sink_format to)
{
	if (output && strcmp(output, "-")) {
		if (ends_with(output, ".gz"))
			return COMPRESS_GZIP;
		if (ends_with(output, ".zst"))
			return COMPRESS_ZSTD;
		if (ends_with(output, ".pb") || ends_with(output, ".folded") ||
		    ends_with(output, ".txt"))
			return COMPRESS_NONE;
	}
	return to == SINK_PPROF ? COMPRESS_GZIP : COMPRESS_NONE;
}

struct folded_job {
	const struct pprof_profile *p;
	size_t index;
};

static int folded__fill(void *arg, struct compress_writer *w, struct errmsg *e)
{
	const struct folded_job *j = arg;

	return folded__write(j->p, j->index, compress_writer__sink, w, e);
}

static int pprof__fill(void *p, struct compress_writer *w, struct errmsg *e)
{
	return pprof__encode(p, w, e);
}

int sink__write(const struct pprof_profile *p, const char *path, enum sink_format to,
		enum compress_kind kind, int level, const char *sample_type, struct errmsg *e)
{
	/* Folded stacks count samples where the profile has them (what
	 * flamegraph.pl and `profile -f` users expect); else pprof's default. */
	int samples = pprof__sample_index(p->pb, "samples");
	struct folded_job j = { p, samples >= 0 ? (size_t)samples : pprof__default_sample_index(p->pb) };

	if (to != SINK_FOLDED)
		return out_file__write_compressed(path, kind, level, pprof__fill, (void *)p, e);
	if (sample_type) {
		int i = pprof__sample_index(p->pb, sample_type);

		if (i < 0)
			return errmsg__set(e, -EINVAL, "no sample type \"%s\" in the profile",
					   sample_type);
		j.index = (size_t)i;
	}
	return out_file__write_compressed(path, kind, level, folded__fill, &j, e);
}

int sink__probe(const char *path, struct errmsg *e)
{
	struct out_file *f;

	if (!strcmp(path, "-"))
		return 0;
	f = out_file__open(path, e);
	if (!f)
		return -errno;
	out_file__abort(f);
	return 0;
}
