/* Parallel gzip. The input is cut into fixed blocks; each block is raw
 * deflate primed with the previous block's last 32 KiB as dictionary and
 * ended with a sync flush (the last one with finish), so the blocks
 * concatenate into one deflate stream: one ordinary gzip member whose CRC is
 * combined from the blocks'. Ratio is within a fraction of a percent of
 * single-threaded zlib at the same level. Blocks are written out in order
 * from a ring of 2 * threads + 1 jobs, each a 1 MiB input, a 1 MiB output
 * and a 32 KiB dictionary, so memory is bounded at about 4.6 MiB per thread
 * (two jobs and a deflate state) plus 2.3 MiB: 39 MiB at the 8-thread cap.
 * Buffers are allocated when a job is first filled, so small input takes
 * less. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "compress/pgzip.h"

#define PGZIP_DICT 32768u

struct pgzip_job {
	unsigned char *in, *out;
	size_t in_len, out_len, dict_len;
	uLong crc;
	bool last;
	int err;
	bool compressed;	/* under lock: a worker has finished this job */
	unsigned char dict[PGZIP_DICT];
};

struct pgzip {
	int level, nthreads;
	bool started, stop, header_done;
	compress_sink_fn *sink;
	void *ctx;
	int err;
	size_t out_cap;
	struct pgzip_job *jobs;
	size_t njobs;
	uint64_t seq_fill;	/* the job being filled; all before it are submitted */
	uint64_t seq_take;	/* next job a worker takes */
	uint64_t seq_write;	/* next job to write out */
	uLong crc;
	uint64_t total_in;
	z_stream z;		/* for compressing on the caller's thread */
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	pthread_t threads[PGZIP_MAX_THREADS];
};

static int job__compress(z_stream *z, struct pgzip_job *j)
{
	int ret;

	if (deflateReset(z) != Z_OK ||
	    (j->dict_len && deflateSetDictionary(z, j->dict, (uInt)j->dict_len) != Z_OK))
		return -EIO;
	z->next_in = j->in;
	z->avail_in = (uInt)j->in_len;
	z->next_out = j->out;
	z->avail_out = (uInt)j->out_len;	/* the capacity on entry */
	ret = deflate(z, j->last ? Z_FINISH : Z_SYNC_FLUSH);
	/* The output buffer is sized past deflateBound: one call always ends. */
	if (z->avail_in || !z->avail_out || ret != (j->last ? Z_STREAM_END : Z_OK))
		return -EIO;
	j->out_len -= z->avail_out;
	j->crc = crc32(0, j->in, (uInt)j->in_len);
	return 0;
}

static int stream__init(z_stream *z, int level)
{
	memset(z, 0, sizeof(*z));
	return deflateInit2(z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -ENOMEM;
}

static void *pgzip__worker(void *arg)
{
	struct pgzip *g = arg;
	z_stream z;
	bool ok = !stream__init(&z, g->level);

	pthread_mutex_lock(&g->lock);
	for (;;) {
		struct pgzip_job *j;

		while (!g->stop && g->seq_take == g->seq_fill)
			pthread_cond_wait(&g->work, &g->lock);
		if (g->seq_take == g->seq_fill)
			break;
		j = &g->jobs[g->seq_take++ % g->njobs];
		pthread_mutex_unlock(&g->lock);
		j->err = ok ? job__compress(&z, j) : -ENOMEM;
		pthread_mutex_lock(&g->lock);
		j->compressed = true;
		pthread_cond_broadcast(&g->done);
	}
	pthread_mutex_unlock(&g->lock);
	if (ok)
		deflateEnd(&z);
	return NULL;
}

struct pgzip *pgzip__new(int level, int threads, compress_sink_fn *sink, void *ctx)
{
	struct pgzip *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->level = level;
	g->nthreads = threads < 0 ? 0 : threads > PGZIP_MAX_THREADS ? PGZIP_MAX_THREADS : threads;
	g->sink = sink;
	g->ctx = ctx;
	/* Enough jobs that every worker has one and the writer one more. */
	g->njobs = g->nthreads ? 2 * (size_t)g->nthreads + 1 : 1;
	g->jobs = calloc(g->njobs, sizeof(*g->jobs));
	if (!g->jobs || stream__init(&g->z, level))
		goto err_free;
	g->out_cap = deflateBound(&g->z, PGZIP_BLOCK) + 64;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->work, NULL);
	pthread_cond_init(&g->done, NULL);
	g->crc = crc32(0, NULL, 0);
	return g;

err_free:
	free(g->jobs);
	free(g);
	errno = ENOMEM;
	return NULL;
}

void pgzip__free(struct pgzip *g)
{
	size_t i;
	int t;

	if (!g)
		return;
	if (g->started) {
		pthread_mutex_lock(&g->lock);
		g->stop = true;
		pthread_cond_broadcast(&g->work);
		pthread_mutex_unlock(&g->lock);
		for (t = 0; t < g->nthreads; t++)
			pthread_join(g->threads[t], NULL);
	}
	for (i = 0; i < g->njobs; i++) {
		free(g->jobs[i].in);
		free(g->jobs[i].out);
	}
	deflateEnd(&g->z);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->work);
	pthread_cond_destroy(&g->done);
	free(g->jobs);
	free(g);
}

static int pgzip__emit(struct pgzip *g, const void *data, size_t len)
{
	if (!g->err && len)
		g->err = g->sink(g->ctx, data, len);
	return g->err;
}

/* Write out the oldest submitted job, waiting for it if wait is set.
 * Returns 1 when one was written, 0 when none was ready. */
static int pgzip__drain_one(struct pgzip *g, bool wait)
{
	struct pgzip_job *j;
	bool ready = true;	/* inline jobs are compressed before they count as submitted */

	if (g->seq_write == g->seq_fill)
		return 0;
	j = &g->jobs[g->seq_write % g->njobs];
	if (g->started) {
		/* The flag is read under the lock that published the worker's
		 * results, so out, out_len, crc and err are visible after it. */
		pthread_mutex_lock(&g->lock);
		while (wait && !j->compressed)
			pthread_cond_wait(&g->done, &g->lock);
		ready = j->compressed;
		pthread_mutex_unlock(&g->lock);
	}
	if (!ready)
		return 0;
	if (!g->err && j->err)
		g->err = j->err;
	pgzip__emit(g, j->out, j->out_len);
	g->crc = crc32_combine(g->crc, j->crc, (z_off_t)j->in_len);
	j->in_len = 0;
	g->seq_write++;
	return 1;
}

static void pgzip__start(struct pgzip *g)
{
	int t;

	for (t = 0; t < g->nthreads; t++)
		if (pthread_create(&g->threads[t], NULL, pgzip__worker, g)) {
			/* Fewer workers is still correct; none means work inline. */
			g->nthreads = t;
			break;
		}
	g->started = g->nthreads > 0;
}

static struct pgzip_job *pgzip__filling(struct pgzip *g)
{
	struct pgzip_job *j = &g->jobs[g->seq_fill % g->njobs];

	if (!j->in) {
		j->in = malloc(PGZIP_BLOCK);
		j->out = malloc(g->out_cap);
		if (!j->in || !j->out) {
			g->err = -ENOMEM;
			return NULL;
		}
	}
	return j;
}

static int pgzip__submit(struct pgzip *g, bool last)
{
	struct pgzip_job *j = &g->jobs[g->seq_fill % g->njobs];

	j->last = last;
	j->out_len = g->out_cap;
	g->total_in += j->in_len;
	if (g->nthreads && !g->started && !last)
		pgzip__start(g);
	if (!g->started) {
		j->err = job__compress(&g->z, j);
		g->seq_fill++;
		pgzip__drain_one(g, false);
	} else {
		pthread_mutex_lock(&g->lock);
		j->compressed = false;
		g->seq_fill++;
		pthread_cond_signal(&g->work);
		pthread_mutex_unlock(&g->lock);
		while (pgzip__drain_one(g, false))
			;
	}
	if (last)
		return g->err;
	/* The next block is primed with this one's tail; its slot must be
	 * written out first. Only this thread moves seq_fill and seq_write, so
	 * counting needs no lock. */
	{
		struct pgzip_job *next = &g->jobs[g->seq_fill % g->njobs];

		while (g->seq_fill - g->seq_write >= g->njobs && pgzip__drain_one(g, true))
			;
		if (!pgzip__filling(g))
			return g->err;
		next->dict_len = PGZIP_DICT;
		memcpy(next->dict, j->in + PGZIP_BLOCK - PGZIP_DICT, PGZIP_DICT);
	}
	return g->err;
}

int pgzip__write(struct pgzip *g, const void *data, size_t len)
{
	static const unsigned char header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	const unsigned char *p = data;

	if (!g->header_done) {
		g->header_done = true;
		if (!pgzip__filling(g) || pgzip__emit(g, header, sizeof(header)))
			return g->err;
	}
	while (len && !g->err) {
		struct pgzip_job *j = &g->jobs[g->seq_fill % g->njobs];
		size_t n = PGZIP_BLOCK - j->in_len;

		if (n > len)
			n = len;
		memcpy(j->in + j->in_len, p, n);
		j->in_len += n;
		p += n;
		len -= n;
		if (j->in_len == PGZIP_BLOCK)
			pgzip__submit(g, false);
	}
	return g->err;
}

int pgzip__finish(struct pgzip *g)
{
	unsigned char trailer[8];

	if (pgzip__write(g, NULL, 0) || pgzip__submit(g, true))
		return g->err;
	while (pgzip__drain_one(g, true))
		;
	trailer[0] = (unsigned char)g->crc;
	trailer[1] = (unsigned char)(g->crc >> 8);
	trailer[2] = (unsigned char)(g->crc >> 16);
	trailer[3] = (unsigned char)(g->crc >> 24);
	trailer[4] = (unsigned char)g->total_in;
	trailer[5] = (unsigned char)(g->total_in >> 8);
	trailer[6] = (unsigned char)(g->total_in >> 16);
	trailer[7] = (unsigned char)(g->total_in >> 24);
	return pgzip__emit(g, trailer, sizeof(trailer));
}
