/* convert: input bytes → (decompress) → detect → profile → pprof | folded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "convert/pipeline.h"
#include "export/sink.h"
#include "fileio/fileio.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static enum sink_format sink_format(enum convert_format to)
{
	return to == FORMAT_FOLDED ? SINK_FOLDED : SINK_PPROF;
}

/* The file name part of a path. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Beside the input: its name minus a known suffix, plus the output's. */
static int derive_output(const struct convert_opts *o, enum convert_format to,
			 enum compress_kind kind, struct convert_result *r, struct errmsg *e)
{
	static const char *const known[] = {
		".pb.gz", ".pb.zst", ".pb", ".pprof", ".folded.gz", ".folded.zst", ".folded",
		".collapsed", ".perf", ".txt.gz", ".txt.zst", ".txt", ".gz", ".zst",
	};
	const char *base = base_name(o->input);
	const char *suffix;
	size_t n = strlen(o->input), i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (ends_with(base, known[i]) && strlen(base) > strlen(known[i])) {
			n -= strlen(known[i]);
			break;
		}
	if (to == FORMAT_PPROF)
		suffix = compress__pprof_suffix(kind);
	else
		suffix = kind == COMPRESS_GZIP ? ".folded.gz" : kind == COMPRESS_ZSTD ? ".folded.zst"
										    : ".folded";
	if ((size_t)snprintf(r->output_buf, sizeof(r->output_buf), "%.*s%s", (int)n, o->input,
			     suffix) >= sizeof(r->output_buf))
		return errmsg__set(e, -ENAMETOOLONG, "output name too long");
	if (!strcmp(r->output_buf, o->input))
		return errmsg__set(e, -EEXIST, "output would overwrite the input; name one with -o");
	r->output = r->output_buf;
	return 0;
}

static int read_profile(const struct convert_opts *o, struct pprof_profile **p,
			struct convert_result *r, struct errmsg *e)
{
	struct buf file = BUF_INIT(CONVERT_MAX_INPUT_BYTES);
	int err;

	err = fileio__read_all(o->input, &file, e);
	if (!err)
		err = convert__read(file.data, file.len, o->from, p, &r->from, e);
	buf__free(&file);
	if (!err && o->symbolize)
		err = convert__symbolize(*p, e);
	return err;
}

/* What a user calls "N samples": the total of the first count type, or -1
 * when there is none or it does not fit. */
static int64_t sampled_total(const pprof_pb *pb)
{
	int64_t total = 0;
	size_t i, t;

	for (t = 0; t < pb->n_sample_type; t++)
		if (!strcmp(pprof__str(pb, pb->sample_type[t]->unit), "count"))
			break;
	if (t == pb->n_sample_type)
		return -1;
	for (i = 0; i < pb->n_sample; i++)
		if (__builtin_add_overflow(total, pb->sample[i]->value[t], &total))
			return -1;
	return total;
}

/* The output's format: --to, else folded when OUT's name says so. */
static enum convert_format output_format(const struct convert_opts *o)
{
	if (o->to != FORMAT_AUTO)
		return o->to;
	return o->output && strstr(base_name(o->output), ".folded") ? FORMAT_FOLDED : FORMAT_PPROF;
}

bool convert__binary_to_stdout(const struct convert_opts *o)
{
	enum convert_format to = output_format(o);
	enum compress_kind kind = o->compress_set ? o->compress
						  : sink__output_compression(o->output, sink_format(to));
	bool to_stdout = o->output ? !strcmp(o->output, "-") : !strcmp(o->input, "-");

	return to_stdout && (to == FORMAT_PPROF || kind != COMPRESS_NONE);
}

int convert__run(const struct convert_opts *opts, struct convert_result *r, struct errmsg *e)
{
	const struct convert_opts *o = opts;
	enum convert_format to = output_format(o);
	enum compress_kind kind;
	struct pprof_profile *p = NULL;
	char msg[ERRMSG_MAX];
	int err;

	memset(r, 0, sizeof(*r));
	r->to = to;
	if (o->sample_type && to != FORMAT_FOLDED)
		return errmsg__set(e, -EINVAL, "--sample-type chooses the value of folded output; "
				   "pprof output keeps every sample type");
	kind = o->compress_set ? o->compress : sink__output_compression(o->output, sink_format(to));
	r->output = o->output;
	if (compress__check_level(kind, o->level))
		return errmsg__set(e, -ERANGE, "compression level %d is out of range for %s",
				   o->level, compress__name(kind));
	if (!r->output) {
		err = strcmp(o->input, "-") ? derive_output(o, to, kind, r, e) : 0;
		if (err)
			return err;
		if (!r->output)
			r->output = "-";
	}
	err = read_profile(o, &p, r, e);
	if (err) {
		/* Name the input in front of what the reader said. */
		snprintf(msg, sizeof(msg), "%s", e->text);
		errmsg__set(e, err, "%s: %s", strcmp(o->input, "-") ? o->input : "standard input",
			    msg);
		goto out;
	}
	r->samples = p->pb->n_sample;
	r->sampled = sampled_total(p->pb);
	err = sink__write(p, r->output, sink_format(to), kind, o->level, o->sample_type, e);
out:
	pprof__free(p);
	return err;
}
