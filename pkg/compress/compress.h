/* gzip, zstd or no compression behind one streaming writer, and a bounded
 * decoder that recognises the format by its magic bytes. */
#ifndef BPPROF_COMPRESS_COMPRESS_H
#define BPPROF_COMPRESS_COMPRESS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/errmsg.h"

enum compress_kind { COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD };

#define COMPRESS_GZIP_DEFAULT_LEVEL 6
#define COMPRESS_ZSTD_DEFAULT_LEVEL 3
#define COMPRESS_LEVEL_DEFAULT (-1)	/* the kind's own default */

/* Where compressed bytes go: returns 0 or a negative errno. */
typedef int compress_sink_fn(void *ctx, const void *data, size_t len);

struct compress_writer;

struct compress_writer *compress_writer__new(enum compress_kind kind, int level,
					     compress_sink_fn *sink, void *ctx);
int compress_writer__write(struct compress_writer *w, const void *data, size_t len);
/* compress_writer__write as a compress_sink_fn, to chain writers. */
int compress_writer__sink(void *w, const void *data, size_t len);
/* Flush everything and write the trailer. */
int compress_writer__finish(struct compress_writer *w);
void compress_writer__free(struct compress_writer *w);

/* "gzip", "zstd", "none": 0 or -EINVAL. */
int compress__parse_kind(const char *name, enum compress_kind *kind);
const char *compress__name(enum compress_kind kind);
/* ".pb.gz", ".pb.zst", ".pb" */
const char *compress__pprof_suffix(enum compress_kind kind);
/* Valid level range for a kind: 0 or -ERANGE. */
int compress__check_level(enum compress_kind kind, int level);

/* By magic bytes; anything else is COMPRESS_NONE. */
enum compress_kind compress__detect(const void *data, size_t len);

/* Decompress all of data (gzip, concatenated gzip members, zstd frames, or
 * plain bytes copied) and append to out, whose limit bounds the result.
 * -EBADMSG corrupt or truncated input, -E2BIG over the limit, -ENOMEM.
 * Output past COMPRESS_STAGE_BYTES is counted before it is kept, so what is
 * refused for its size never costs more than that in memory. */
#define COMPRESS_STAGE_BYTES (32u << 20)
int compress__decode(const void *data, size_t len, struct buf *out, struct errmsg *e);

#endif
