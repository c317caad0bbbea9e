/* Parallel gzip: one standard gzip member, compressed in 1 MiB blocks on
 * worker threads (pigz's scheme), so a large profile compresses on every
 * core while the encoder is still producing it. */
#ifndef BPPROF_COMPRESS_PGZIP_H
#define BPPROF_COMPRESS_PGZIP_H

#include <stddef.h>

#include "compress/compress.h"

#define PGZIP_BLOCK		(1u << 20)
#define PGZIP_MAX_THREADS	8

struct pgzip;

/* threads 0: compress on the caller's thread. Output is the same bytes
 * whatever the thread count. */
struct pgzip *pgzip__new(int level, int threads, compress_sink_fn *sink, void *ctx);
int pgzip__write(struct pgzip *g, const void *data, size_t len);
int pgzip__finish(struct pgzip *g);
void pgzip__free(struct pgzip *g);

#endif
