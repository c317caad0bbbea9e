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

/* Where a decoder's output goes: appended to buf, or, when buf is NULL,
 * only counted (into scratch, again and again) up to limit. */
struct dec_out {
	struct buf *buf;
	size_t total, limit;
	size_t shown;		/* the limit messages name, when counting */
	unsigned char *scratch;
};

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

/* Room for the next output at *at: > 0, -E2BIG at the limit, -ENOMEM. */
static ssize_t dec_room(struct dec_out *o, size_t hint, unsigned char **at)
{
	ssize_t room;

	if (!o->buf) {
		*at = o->scratch;
		room = (ssize_t)(o->limit - o->total < COMPRESS_OUT_CHUNK ?
				 o->limit - o->total : COMPRESS_OUT_CHUNK);
		return room ? room : -E2BIG;
	}
	room = spare_room(o->buf, hint);
	*at = o->buf->data + o->buf->len;
	return room;
}

static void dec_produced(struct dec_out *o, size_t n)
{
	if (o->buf)
		o->buf->len += n;
	else
		o->total += n;
}

static size_t dec_limit(const struct dec_out *o)
{
	return o->buf ? o->buf->limit : o->shown;
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

static int grow_error(struct errmsg *e, ssize_t err, const char *what, const struct dec_out *o)
{
	char limit[32];

	if (err == -E2BIG)
		return errmsg__set(e, -E2BIG, "%s data expands past the limit of %s", what,
				   size__format(limit, sizeof(limit), dec_limit(o)));
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

/* One decoder's state, so that decoding can stop at a bound and go on. */
struct decoder {
	enum compress_kind kind;
	const unsigned char *p;
	size_t len;
	z_stream z;			/* gzip */
	ZSTD_DCtx *d;			/* zstd */
	ZSTD_inBuffer in;
	size_t ret;			/* zstd: 0 between frames */
};

static int decoder__init(struct decoder *dc, enum compress_kind kind, const void *p, size_t len,
			 struct errmsg *e)
{
	memset(dc, 0, sizeof(*dc));
	dc->kind = kind;
	dc->p = p;
	dc->len = len;
	if (kind == COMPRESS_GZIP) {
		if (inflateInit2(&dc->z, 15 + 16) != Z_OK)
			return errmsg__set(e, -ENOMEM, "cannot start gzip decoder");
		dc->z.next_in = (unsigned char *)p;
		return 0;
	}
	dc->d = ZSTD_createDCtx();
	dc->in = (ZSTD_inBuffer){ p, len, 0 };
	dc->ret = 1;
	return dc->d ? 0 : errmsg__set(e, -ENOMEM, "cannot start zstd decoder");
}

static void decoder__free(struct decoder *dc)
{
	if (dc->kind == COMPRESS_GZIP)
		inflateEnd(&dc->z);
	else
		ZSTD_freeDCtx(dc->d);
}

/* Matches Go's compress/gzip, which go tool pprof and Pyroscope read with:
 * every member of a multi-member file (as `cat a.gz b.gz` makes) is read,
 * and anything else after a member is refused, zero padding included (Go
 * reads it as the next header: "gzip: invalid header", or "unexpected EOF"
 * under 10 bytes; golang/go#47809 and #61797 keep it that way). A file we
 * accept is one they accept. */
static int gzip__run(struct decoder *dc, struct dec_out *out, struct errmsg *e)
{
	const unsigned char *p = dc->p;
	size_t len = dc->len, used;
	z_stream *z = &dc->z;
	unsigned char *at;
	ssize_t room;
	int ret;

	for (;;) {
		used = (size_t)(z->next_in - p);
		if (z->avail_in == 0)
			z->avail_in = (uInt)(len - used > UINT32_MAX ? UINT32_MAX : len - used);
		room = dec_room(out, len < (1u << 20) ? 256u << 10 : len * 4, &at);
		if (room < 0)
			return grow_error(e, room, "gzip", out);
		z->next_out = at;
		z->avail_out = (uInt)((size_t)room > UINT32_MAX ? UINT32_MAX : (size_t)room);
		ret = inflate(z, Z_NO_FLUSH);
		dec_produced(out, (size_t)(z->next_out - at));
		used = (size_t)(z->next_in - p);
		if (ret == Z_STREAM_END) {
			if (used == len)
				return 0;
			/* A lone 0x1f may start a member cut short: "truncated" below. */
			if (p[used] == 0x1f && (len - used == 1 || p[used + 1] == 0x8b)) {
				inflateReset(z);
				continue;
			}
			return trailing_error(e, p + used, len - used, "gzip");
		}
		if (ret == Z_BUF_ERROR && used == len)
			return errmsg__set(e, -EBADMSG, "truncated gzip data (ends after %zu bytes)", len);
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return errmsg__set(e, -EBADMSG, "corrupt gzip data: %s",
					   z->msg ? z->msg : "inflate failed");
	}
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
static int zstd__run(struct decoder *dc, struct dec_out *out, struct errmsg *e)
{
	const unsigned char *p = dc->p;
	ZSTD_inBuffer *in = &dc->in;
	unsigned char *at;
	ssize_t room;

	while (in->pos < in->size || dc->ret != 0) {
		ZSTD_outBuffer ob;

		if (dc->ret == 0 && !zstd__is_frame(p + in->pos, in->size - in->pos))
			return trailing_error(e, p + in->pos, in->size - in->pos, "zstd");
		room = dec_room(out, dc->len < (1u << 20) ? 256u << 10 : dc->len * 4, &at);
		if (room < 0)
			return grow_error(e, room, "zstd", out);
		ob = (ZSTD_outBuffer){ at, (size_t)room, 0 };
		dc->ret = ZSTD_decompressStream(dc->d, &ob, in);
		dec_produced(out, ob.pos);
		if (ZSTD_isError(dc->ret))
			return errmsg__set(e, -EBADMSG, "corrupt zstd data: %s",
					   ZSTD_getErrorName(dc->ret));
		if (in->pos == in->size && ob.pos < ob.size && dc->ret != 0)
			return errmsg__set(e, -EBADMSG, "truncated zstd data (ends after %zu bytes)",
					   dc->len);
	}
	return 0;
}

/* Decode on from where dc stopped. -E2BIG leaves dc able to go on: the
 * bound is met before asking the decoder for more. */
static int decoder__run(struct decoder *dc, struct dec_out *out, struct errmsg *e)
{
	return dc->kind == COMPRESS_GZIP ? gzip__run(dc, out, e) : zstd__run(dc, out, e);
}

/* The bytes dc would still produce, at most limit (shown: the limit to name
 * in a message), counted and not kept:
 * by a copy of its state (gzip), or, as zstd's stable API has no copy, by a
 * second decoder from the start less the produced bytes dc has made. */
static int decoder__count_rest(const struct decoder *dc, size_t produced, size_t limit,
			       size_t shown, size_t *rest, struct errmsg *e)
{
	bool gzip = dc->kind == COMPRESS_GZIP;
	struct dec_out o = {
		.limit = gzip ? limit : produced + limit,
		.shown = shown,
		.scratch = malloc(COMPRESS_OUT_CHUNK),
	};
	struct decoder c;
	int err;

	if (!o.scratch)
		return errmsg__set(e, -ENOMEM, "out of memory decompressing");
	if (gzip) {
		c = *dc;
		err = inflateCopy(&c.z, (z_streamp)&dc->z) == Z_OK ? 0 :
		      errmsg__set(e, -ENOMEM, "cannot copy the gzip decoder");
	} else {
		err = decoder__init(&c, dc->kind, dc->p, dc->len, e);
	}
	if (!err) {
		err = decoder__run(&c, &o, e);
		decoder__free(&c);
	}
	free(o.scratch);
	*rest = gzip ? o.total : o.total - produced;
	return err;
}

/* Only COMPRESS_STAGE_BYTES are decoded into out at first: most inputs end
 * there. For one that goes on, the rest is first counted (decoded without
 * being kept) up to out's limit, so a bomb (a few MB that would expand to
 * gigabytes) is refused having cost COMPRESS_STAGE_BYTES, not the limit;
 * within the limit, decoding then goes on into a buffer of the exact size. */
static int decode_bounded(enum compress_kind kind, const void *data, size_t len,
			  struct buf *out, struct errmsg *e)
{
	struct dec_out o = { .buf = out };
	size_t base = out->len, limit = out->limit, rest = 0;
	struct decoder dc;
	int err;

	err = decoder__init(&dc, kind, data, len, e);
	if (err)
		return err;
	if (limit && limit - base > COMPRESS_STAGE_BYTES)
		out->limit = base + COMPRESS_STAGE_BYTES;
	err = decoder__run(&dc, &o, e);
	if (err == -E2BIG && out->limit != limit) {
		out->limit = limit;
		err = decoder__count_rest(&dc, out->len - base, limit - out->len, limit, &rest, e);
		if (!err && buf__reserve(out, rest))
			err = errmsg__set(e, -ENOMEM, "out of memory decompressing %zu bytes",
					  out->len - base + rest);
		if (!err)
			err = decoder__run(&dc, &o, e);
	}
	out->limit = limit;
	decoder__free(&dc);
	return err;
}

int compress__decode(const void *data, size_t len, struct buf *out, struct errmsg *e)
{
	char limit[32];
	int err;

	switch (compress__detect(data, len)) {
	case COMPRESS_GZIP:
	case COMPRESS_ZSTD:
		return decode_bounded(compress__detect(data, len), data, len, out, e);
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
