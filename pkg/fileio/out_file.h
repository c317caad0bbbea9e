/* Output files that appear whole or not at all: bytes go to an unnamed
 * temporary file in the target's directory (a symlink's target's), named and
 * renamed into place by out_file__commit, so a killed process leaves nothing.
 * "-" (standard output) and existing devices or FIFOs are written directly. */
#ifndef BPPROF_FILEIO_OUT_FILE_H
#define BPPROF_FILEIO_OUT_FILE_H

#include <stddef.h>

#include "base/errmsg.h"
#include "compress/compress.h"

struct out_file;

/* NULL with errno set (EISDIR, EACCES, ENOENT, ...) and e saying why. */
struct out_file *out_file__open(const char *path, struct errmsg *e);
/* A compress_sink_fn: ctx is the out_file. */
int out_file__write(void *ctx, const void *data, size_t len);
int out_file__commit(struct out_file *f, struct errmsg *e);
/* Drop the temporary file and free f; NULL-safe; not after commit, which
 * frees f itself. */
void out_file__abort(struct out_file *f);

/* Write path atomically through a compressor: fill streams the content into
 * w; the file appears only if fill and compression succeed. Failures after
 * open say "cannot write PATH: ..."; a write error (ENOSPC, EFBIG) is
 * reported as such, whatever fill made of it. */
typedef int out_file_fill_fn(void *arg, struct compress_writer *w, struct errmsg *e);
int out_file__write_compressed(const char *path, enum compress_kind kind, int level, out_file_fill_fn *fill,
			       void *arg, struct errmsg *e);

#endif
