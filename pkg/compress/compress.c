/* gzip (zlib) and zstd streaming writers, and the bounded decoder. */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "compress/compress.h"
#include "compress/pgzip.h"

#define COMPRESS_OUT_CHUNK (128u << 10)

struct compress_writer {
	enum compress_kind kind;
	compress_sink_fn *sink;
	void *ctx;
	struct pgzip *gzip;
	ZSTD_CCtx *zstd;
	unsigned char out[COMPRESS_OUT_CHUNK];
};

int compress__parse_kind(const char *name, enum compress_kind *kind)
{
	if (!strcmp(name, "gzip") || !strcmp(name, "gz"))
		*kind = COMPRESS_GZIP;
	else if (!strcmp(name, "zstd") || !strcmp(name, "zst"))
		*kind = COMPRESS_ZSTD;
	else if (!strcmp(name, "none"))
		*kind = COMPRESS_NONE;
	else
		return -EINVAL;
	return 0;
}

const char *compress__name(enum compress_kind kind)
{
	return kind == COMPRESS_GZIP ? "gzip" : kind == COMPRESS_ZSTD ? "zstd" : "none";
}

const char *compress__pprof_suffix(enum compress_kind kind)
{
	return kind == COMPRESS_GZIP ? ".pb.gz" : kind == COMPRESS_ZSTD ? ".pb.zst" : ".pb";
}

int compress__check_level(enum compress_kind kind, int level)
{
	if (level == COMPRESS_LEVEL_DEFAULT)
		return 0;
	switch (kind) {
	case COMPRESS_GZIP:
		return level >= 0 && level <= 9 ? 0 : -ERANGE;
	case COMPRESS_ZSTD:
		return level >= 1 && level <= ZSTD_maxCLevel() ? 0 : -ERANGE;
	default:
		return -ERANGE;
	}
}

/* Workers for one writer: every CPU we may run on (the encoder mostly waits
 * on them), none on a single CPU. The affinity mask, not the online count, is
 * what taskset and cpuset containers restrict; a mask too big for cpu_set_t
 * (over 1024 CPUs) falls back to the online count, which the cap makes moot. */
static int compress__threads(void)
{
	cpu_set_t set;
	long n;

	if (!sched_getaffinity(0, sizeof(set), &set))
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 1 ? (int)(n < PGZIP_MAX_THREADS ? n : PGZIP_MAX_THREADS) : 0;
}

struct compress_writer *compress_writer__new(enum compress_kind kind, int level,
					     compress_sink_fn *sink, void *ctx)
{
	struct compress_writer *w;

	if (compress__check_level(kind, level)) {
		errno = ERANGE;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->kind = kind;
	w->sink = sink;
	w->ctx = ctx;
	switch (kind) {
	case COMPRESS_GZIP:
		if (level == COMPRESS_LEVEL_DEFAULT)
			level = COMPRESS_GZIP_DEFAULT_LEVEL;
		w->gzip = pgzip__new(level, compress__threads(), sink, ctx);
		if (!w->gzip)
			goto err_free;
		break;
	case COMPRESS_ZSTD:
		if (level == COMPRESS_LEVEL_DEFAULT)
			level = COMPRESS_ZSTD_DEFAULT_LEVEL;
		w->zstd = ZSTD_createCCtx();
		if (!w->zstd ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->zstd, ZSTD_c_compressionLevel, level)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->zstd, ZSTD_c_checksumFlag, 1)))
			goto err_free;
		/* Multithreaded where libzstd supports it; the format is the same. */
		ZSTD_CCtx_setParameter(w->zstd, ZSTD_c_nbWorkers, compress__threads());
		break;
	case COMPRESS_NONE:
		break;
	}
	return w;

err_free:
	compress_writer__free(w);
	errno = ENOMEM;
	return NULL;
}

void compress_writer__free(struct compress_writer *w)
{
	if (!w)
		return;
	pgzip__free(w->gzip);
	ZSTD_freeCCtx(w->zstd);
	free(w);
}

static int zstd__pump(struct compress_writer *w, const void *data, size_t len,
		      ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { data, len, 0 };
	size_t left;
	int err;

	do {
		ZSTD_outBuffer out = { w->out, sizeof(w->out), 0 };

		left = ZSTD_compressStream2(w->zstd, &out, &in, mode);
		if (ZSTD_isError(left))
			return -EIO;
		if (out.pos) {
			err = w->sink(w->ctx, w->out, out.pos);
			if (err)
				return err;
		}
	} while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

int compress_writer__write(struct compress_writer *w, const void *data, size_t len)
{
	switch (w->kind) {
	case COMPRESS_GZIP:
		return len ? pgzip__write(w->gzip, data, len) : 0;
	case COMPRESS_ZSTD:
		return len ? zstd__pump(w, data, len, ZSTD_e_continue) : 0;
	default:
		return len ? w->sink(w->ctx, data, len) : 0;
	}
}

int compress_writer__sink(void *w, const void *data, size_t len)
{
	return compress_writer__write(w, data, len);
}

int compress_writer__finish(struct compress_writer *w)
{
	switch (w->kind) {
	case COMPRESS_GZIP:
		return pgzip__finish(w->gzip);
	case COMPRESS_ZSTD:
		return zstd__pump(w, NULL, 0, ZSTD_e_end);
	default:
		return 0;
	}
}

enum compress_kind compress__detect(const void *data, size_t len)
{
	const unsigned char *p = data;

	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return COMPRESS_GZIP;
	if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return COMPRESS_ZSTD;
	return COMPRESS_NONE;
}

/* Spare room for a decoder to write into, growing geometrically but never
 * past out's limit: > 0, or -E2BIG at the limit, or -ENOMEM. */
static ssize_t spare_room(struct buf *out, size_t hint)
{
	size_t want = out->len > hint ? out->len : hint;
	int err;

	if (out->cap - out->len >= 4096)
		want = 0;
	if (out->limit && want > out->limit - out->len)
		want = out->limit - out->len;
	err = buf__reserve(out, want);
	if (err)
		return err;
	want = out->cap - out->len;
	if (out->limit && want > out->limit - out->len)
		want = out->limit - out->len;
	return want ? (ssize_t)want : -E2BIG;
}

/* A limit as the user might have written it: whole MiB or KiB when it is
 * one, else exact bytes, so a small or odd limit never prints as "0 MiB". */
static const char *size__format(char *s, size_t n, size_t bytes)
{
	if (bytes && !(bytes & ((1u << 20) - 1)))
		snprintf(s, n, "%zu MiB", bytes >> 20);
	else if (bytes && !(bytes & 1023))
		snprintf(s, n, "%zu KiB", bytes >> 10);
	else
		snprintf(s, n, "%zu bytes", bytes);
	return s;
}

static int grow_error(struct errmsg *e, ssize_t err, const char *what, const struct buf *out)
{
	char limit[32];

	if (err == -E2BIG)
		return errmsg__set(e, -E2BIG, "%s data expands past the limit of %s", what,
				   size__format(limit, sizeof(limit), out->limit));
	return errmsg__set(e, (int)err, "out of memory decompressing %s", what);
}

static int trailing_error(struct errmsg *e, const unsigned char *p, size_t n, const char *what)
{
	size_t i = 0;

	while (i < n && !p[i])
		i++;
	return errmsg__set(e, -EBADMSG, "%zu byte%s of trailing garbage after the %s data%s", n,
			   n == 1 ? "" : "s", what, i == n ? " (zero padding)" : "");
}

/* Matches Go's compress/gzip, which go tool pprof and Pyroscope read with:
 * every member of a multi-member file (as `cat a.gz b.gz` makes) is read,
 * and anything else after a member is refused, zero padding included (Go
 * reads it as the next header: "gzip: invalid header", or "unexpected EOF"
 * under 10 bytes; golang/go#47809 and #61797 keep it that way). A file we
 * accept is one they accept. */
static int gzip__decode(const unsigned char *p, size_t len, struct buf *out, struct errmsg *e)
{
	z_stream z = { 0 };
	size_t used;
	ssize_t room;
	int ret, err = 0;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return errmsg__set(e, -ENOMEM, "cannot start gzip decoder");
	z.next_in = (unsigned char *)p;
	for (;;) {
		used = (size_t)(z.next_in - p);
		if (z.avail_in == 0)
			z.avail_in = (uInt)(len - used > UINT32_MAX ? UINT32_MAX : len - used);
		room = spare_room(out, len < (1u << 20) ? 256u << 10 : len * 4);
		if (room < 0) {
			err = grow_error(e, room, "gzip", out);
			break;
		}
		z.next_out = out->data + out->len;
		z.avail_out = (uInt)((size_t)room > UINT32_MAX ? UINT32_MAX : (size_t)room);
		ret = inflate(&z, Z_NO_FLUSH);
		out->len = (size_t)(z.next_out - out->data);
		used = (size_t)(z.next_in - p);
		if (ret == Z_STREAM_END) {
			if (used == len)
				break;
			/* A lone 0x1f may start a member cut short: "truncated" below. */
			if (p[used] == 0x1f && (len - used == 1 || p[used + 1] == 0x8b)) {
				inflateReset(&z);
				continue;
			}
			err = trailing_error(e, p + used, len - used, "gzip");
			break;
		}
		if (ret == Z_BUF_ERROR && used == len) {
			err = errmsg__set(e, -EBADMSG, "truncated gzip data (ends after %zu bytes)", len);
			break;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			err = errmsg__set(e, -EBADMSG, "corrupt gzip data: %s",
					  z.msg ? z.msg : "inflate failed");
			break;
		}
	}
	inflateEnd(&z);
	return err;
}

/* A zstd or skippable frame, or the start of one cut short (which the
 * decoder then calls truncated), begins at p; len > 0. The magic numbers are
 * spelt out in file order because ZSTD_isFrame is not stable API. */
static bool zstd__is_frame(const unsigned char *p, size_t len)
{
	static const unsigned char frame[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	static const unsigned char skippable[4] = { 0x50, 0x2a, 0x4d, 0x18 };	/* low nibble free */
	size_t n = len < 4 ? len : 4;

	return !memcmp(p, frame, n) ||
	       ((p[0] & 0xf0) == skippable[0] && !memcmp(p + 1, skippable + 1, n - 1));
}

/* Concatenated frames are all read, like zstd -d; other bytes after a frame
 * get the same message as gzip's instead of a frame-descriptor error. */
static int zstd__decode(const unsigned char *p, size_t len, struct buf *out, struct errmsg *e)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { p, len, 0 };
	size_t ret = 1;
	ssize_t room;
	int err = 0;

	if (!d)
		return errmsg__set(e, -ENOMEM, "cannot start zstd decoder");
	while (in.pos < in.size || ret != 0) {
		ZSTD_outBuffer ob;

		if (ret == 0 && !zstd__is_frame(p + in.pos, in.size - in.pos)) {
			err = trailing_error(e, p + in.pos, in.size - in.pos, "zstd");
			break;
		}
		room = spare_room(out, len < (1u << 20) ? 256u << 10 : len * 4);
		if (room < 0) {
			err = grow_error(e, room, "zstd", out);
			break;
		}
		ob = (ZSTD_outBuffer){ out->data + out->len, (size_t)room, 0 };
		ret = ZSTD_decompressStream(d, &ob, &in);
		out->len += ob.pos;
		if (ZSTD_isError(ret)) {
			err = errmsg__set(e, -EBADMSG, "corrupt zstd data: %s", ZSTD_getErrorName(ret));
			break;
		}
		if (in.pos == in.size && ob.pos < ob.size && ret != 0) {
			err = errmsg__set(e, -EBADMSG, "truncated zstd data (ends after %zu bytes)", len);
			break;
		}
	}
	ZSTD_freeDCtx(d);
	return err;
}

int compress__decode(const void *data, size_t len, struct buf *out, struct errmsg *e)
{
	char limit[32];
	int err;

	switch (compress__detect(data, len)) {
	case COMPRESS_GZIP:
		return gzip__decode(data, len, out, e);
	case COMPRESS_ZSTD:
		return zstd__decode(data, len, out, e);
	default:
		err = buf__append(out, data, len);
		if (err == -E2BIG)
			return errmsg__set(e, -E2BIG, "input is larger than the limit of %s",
					   size__format(limit, sizeof(limit), out->limit));
		if (err)
			return errmsg__set(e, err, "out of memory copying the input");
		return 0;
	}
}
