/* The convert job: read any supported input, write pprof or folded. */
#ifndef BPPROF_CONVERT_PIPELINE_H
#define BPPROF_CONVERT_PIPELINE_H

#include <stdbool.h>

#include "base/errmsg.h"
#include "compress/compress.h"
#include "convert/convert.h"

#define CONVERT_MAX_INPUT_BYTES	(1ull << 30)	/* a file as stored, before decompression */

struct convert_opts {
	const char *input;		/* path or "-" */
	const char *output;		/* path, "-", or NULL to derive from input */
	enum convert_format from;	/* FORMAT_AUTO: detect */
	enum convert_format to;		/* FORMAT_PPROF, FORMAT_FOLDED, or FORMAT_AUTO:
					 * folded when the output is named *.folded* */
	enum compress_kind compress;
	bool compress_set;		/* else from the output's suffix, or the format's default */
	int level;			/* COMPRESS_LEVEL_DEFAULT */
	const char *sample_type;	/* folded output: which value; NULL = pprof's default */
	bool symbolize;			/* name unnamed addresses from the files mappings name */
};

struct convert_result {
	enum convert_format from;
	const char *output;		/* where it went (owned by the result) */
	enum convert_format to;
	size_t samples;			/* distinct samples written */
	int64_t sampled;		/* their total of the first count-unit type, or -1 */
	char output_buf[4096];
};

/* The output goes to stdout and is no plain text (pprof, or compressed
 * folded stacks): what no terminal should be sent. */
bool convert__binary_to_stdout(const struct convert_opts *o);

/* On error the message names what failed; no output file is left behind. */
int convert__run(const struct convert_opts *o, struct convert_result *r, struct errmsg *e);

#endif
