/* pprof decode and encode through protobuf-c. Decoding allocates the message
 * tree from one budgeted arena (freed at once, bounded against hostile
 * input); encoding streams protobuf-c's output through a staging buffer into
 * the compressor, so the uncompressed profile is never held whole. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "pprof/codec.h"

#define PPROF_ENCODE_STAGING (256u << 10)

/* Fields of Profile, for the pre-scan. */
enum {
	F_SAMPLE_TYPE = 1, F_SAMPLE = 2, F_MAPPING = 3, F_LOCATION = 4, F_FUNCTION = 5,
	F_STRING = 6, F_TIME_NANOS = 9, F_MAX = 16,
};

static int varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out, struct errmsg *e)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 10; i++) {
		if (*pos + i >= len)
			return errmsg__set(e, -EBADMSG, "truncated varint at byte %zu", *pos);
		v |= (uint64_t)(p[*pos + i] & 0x7f) << (7 * i);
		if (!(p[*pos + i] & 0x80)) {
			*pos += i + 1;
			*out = v;
			return 0;
		}
	}
	return errmsg__set(e, -EBADMSG, "varint longer than 10 bytes at byte %zu", *pos);
}

/* Walk the top-level fields once, without allocating: precise messages for
 * framing errors, counts to hold against the limits before protobuf-c
 * allocates anything, and google/pprof's "concatenated profiles" rule. */
static int pprof__scan(const uint8_t *p, size_t len, struct errmsg *e)
{
	static const struct { int field; uint64_t max; const char *what; } limits[] = {
		{ F_SAMPLE_TYPE, PPROF_MAX_SAMPLE_TYPES, "sample types" },
		{ F_SAMPLE, PPROF_MAX_SAMPLES, "samples" },
		{ F_LOCATION, PPROF_MAX_LOCATIONS, "locations" },
		{ F_FUNCTION, PPROF_MAX_FUNCTIONS, "functions" },
		{ F_MAPPING, PPROF_MAX_MAPPINGS, "mappings" },
		{ F_STRING, PPROF_MAX_STRINGS, "strings" },
	};
	uint64_t counts[F_MAX] = { 0 }, tag, v;
	bool timed = false;
	size_t pos = 0, i;
	int err;

	if (len == 0)
		return errmsg__set(e, -EBADMSG, "empty profile");
	while (pos < len) {
		size_t at = pos;

		err = varint(p, len, &pos, &tag, e);
		if (err)
			return err;
		if ((tag >> 3) == 0 || (tag >> 3) > UINT32_MAX >> 3)
			return errmsg__set(e, -EBADMSG, "invalid field number %" PRIu64 " at byte %zu "
					   "(not a pprof protobuf?)", tag >> 3, at);
		switch (tag & 7) {
		case 0:
			err = varint(p, len, &pos, &v, e);
			break;
		case 1:
		case 5:
			v = (tag & 7) == 1 ? 8 : 4;
			if (len - pos < v)
				err = errmsg__set(e, -EBADMSG, "truncated field %" PRIu64 " at byte %zu",
						  tag >> 3, at);
			pos += v;
			break;
		case 2:
			err = varint(p, len, &pos, &v, e);
			if (!err && v > len - pos)
				err = errmsg__set(e, -EBADMSG, "field %" PRIu64 " at byte %zu claims %"
						  PRIu64 " bytes, only %zu remain (truncated?)",
						  tag >> 3, at, v, len - pos);
			/* C strings would cut it short where pprof keeps it whole */
			if (!err && (tag >> 3) == F_STRING && memchr(p + pos, 0, v))
				err = errmsg__set(e, -EBADMSG, "string %" PRIu64 " at byte %zu "
						  "holds a NUL byte", counts[F_STRING], at);
			pos += err ? 0 : v;
			break;
		default:
			err = errmsg__set(e, -EBADMSG, "invalid wire type %u at byte %zu "
					  "(not a pprof protobuf?)", (unsigned)(tag & 7), at);
		}
		if (err)
			return err;
		/* google/pprof's rule: time_nanos after a non-zero one */
		if (tag == (F_TIME_NANOS << 3) && timed)
			return errmsg__set(e, -EBADMSG, "time_nanos appears twice, at byte %zu "
					   "(concatenated profiles?)", at);
		if (tag == (F_TIME_NANOS << 3))
			timed = v != 0;
		if ((tag >> 3) < F_MAX)
			counts[tag >> 3]++;
	}
	/* Refused here, before unpacking millions of samples for nothing. */
	if (counts[F_SAMPLE] && !counts[F_SAMPLE_TYPE])
		return errmsg__set(e, -EINVAL, "profile has samples but no sample_type");
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (counts[limits[i].field] > limits[i].max)
			return errmsg__set(e, -E2BIG, "%" PRIu64 " %s (limit %" PRIu64 ")",
					   counts[limits[i].field], limits[i].what, limits[i].max);
	return 0;
}

static void *arena_pb__alloc(void *ctx, size_t size) { return arena__alloc(ctx, size); }
static void arena_pb__free(void *ctx, void *p) { }

int pprof__decode(const void *data, size_t len, struct pprof_profile **out, struct errmsg *e)
{
	struct pprof_profile *p;
	ProtobufCAllocator alloc = { arena_pb__alloc, arena_pb__free, NULL };
	int err;

	err = pprof__scan(data, len, e);
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p)
		return errmsg__set(e, -ENOMEM, "out of memory");
	p->arena = arena__new(PPROF_MAX_DECODE_MEMORY);
	if (!p->arena) {
		err = errmsg__set(e, -ENOMEM, "out of memory");
		goto err_free;
	}
	alloc.allocator_data = p->arena;
	p->pb = perftools__profiles__profile__unpack(&alloc, len, data);
	if (!p->pb) {
		err = arena__over_budget(p->arena)
		      ? errmsg__set(e, -E2BIG, "decoding needs more than %llu MiB",
				    PPROF_MAX_DECODE_MEMORY >> 20)
		      : errmsg__set(e, -EBADMSG, "malformed protobuf inside a pprof message "
				    "(a nested field is cut short or has the wrong type)");
		goto err_free;
	}
	err = pprof__adopt(p->pb, e);
	if (err)
		goto err_free;
	*out = p;
	return 0;

err_free:
	pprof__free(p);
	return err;
}

int pprof__decode_any(const void *data, size_t len, struct pprof_profile **out,
		      struct errmsg *e)
{
	struct buf raw = BUF_INIT(PPROF_MAX_DECODED_BYTES);
	int err;

	if (compress__detect(data, len) == COMPRESS_NONE)
		return pprof__decode(data, len, out, e);
	err = compress__decode(data, len, &raw, e);
	if (!err)
		err = pprof__decode(raw.data, raw.len, out, e);
	buf__free(&raw);
	return err;
}

/* protobuf-c appends in many small pieces (a tag, a varint): stage them. */
struct pb_stream {
	ProtobufCBuffer base;
	struct compress_writer *w;
	int err;
	size_t len;
	uint8_t data[PPROF_ENCODE_STAGING];
};

static void pb_stream__flush(struct pb_stream *s)
{
	if (!s->err && s->len)
		s->err = compress_writer__write(s->w, s->data, s->len);
	s->len = 0;
}

static void pb_stream__append(ProtobufCBuffer *base, size_t len, const uint8_t *data)
{
	struct pb_stream *s = (struct pb_stream *)base;

	if (len > sizeof(s->data) - s->len) {
		pb_stream__flush(s);
		if (len > sizeof(s->data) / 2) {
			if (!s->err)
				s->err = compress_writer__write(s->w, data, len);
			return;
		}
	}
	memcpy(s->data + s->len, data, len);
	s->len += len;
}

static int pack(const pprof_pb *pb, struct compress_writer *w, struct errmsg *e)
{
	struct pb_stream *s;
	int err;

	s = malloc(sizeof(*s));
	if (!s)
		return errmsg__set(e, -ENOMEM, "out of memory");
	s->base.append = pb_stream__append;
	s->w = w;
	s->err = 0;
	s->len = 0;
	protobuf_c_message_pack_to_buffer(&pb->base, &s->base);
	pb_stream__flush(s);
	err = s->err;
	free(s);
	if (err)
		return errmsg__set(e, err, "%s", strerror(-err));
	return 0;
}

int pprof__encode(const struct pprof_profile *p, struct compress_writer *w, struct errmsg *e)
{
	int err = pprof__validate(p->pb, 1, e);

	return err ? err : pack(p->pb, w, e);
}

/* A shallow copy of the top-level message whose sample array points into
 * the original's: packed as is, nothing of the profile is touched. */
int pprof__encode_samples(const struct pprof_profile *p, size_t first, size_t n,
			  struct compress_writer *w, struct errmsg *e)
{
	pprof_pb view;

	if (first > p->pb->n_sample || n > p->pb->n_sample - first)
		return errmsg__set(e, -ERANGE, "samples %zu..%zu of %zu", first, first + n,
				   p->pb->n_sample);
	view = *p->pb;
	view.sample = n ? p->pb->sample + first : NULL;
	view.n_sample = n;
	return pack(&view, w, e);
}

size_t pprof__encoded_size(const struct pprof_profile *p)
{
	return protobuf_c_message_get_packed_size(&p->pb->base);
}
