/* Readers and writers for the formats people already have: folded stacks and
 * `perf script` text in, folded out. pprof itself lives in pprof/. */
#ifndef BPPROF_CONVERT_CONVERT_H
#define BPPROF_CONVERT_CONVERT_H

#include <stddef.h>

#include "base/errmsg.h"
#include "compress/compress.h"
#include "pprof/profile.h"

enum convert_format { FORMAT_AUTO, FORMAT_PPROF, FORMAT_FOLDED, FORMAT_PERF_SCRIPT };

#define CONVERT_MAX_LINE	(1u << 20)	/* longest text line accepted */
#define CONVERT_MAX_FRAMES	4096u		/* deepest stack accepted */

/* "pprof", "folded", "perf-script" (also "perf"): 0 or -EINVAL. */
int convert__parse_format(const char *name, enum convert_format *format);
const char *convert__format_name(enum convert_format format);

/* Guess the format of decompressed input from its content. */
enum convert_format convert__detect(const void *data, size_t len);

/* Text readers: errors say "line N: what is wrong"; the caller names the
 * file. */
int folded__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);
int perf_script__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);

/* Folded stacks: one line per distinct stack, root first, frames joined by
 * ';', then a space and the sum of sample type sample_index. */
int folded__write(const struct pprof_profile *p, size_t sample_index,
		  compress_sink_fn *sink, void *ctx, struct errmsg *e);

#endif
