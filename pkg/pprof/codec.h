/* pprof on the wire: decode (gzip, zstd or plain; packed or not; bounded and
 * validated) and encode (streamed through a compress_writer). */
#ifndef BPPROF_PPROF_CODEC_H
#define BPPROF_PPROF_CODEC_H

#include <stddef.h>

#include "base/errmsg.h"
#include "compress/compress.h"
#include "pprof/profile.h"

/* Decode an uncompressed protobuf and adopt it (pprof__adopt: checked as
 * google/pprof checks, ids renumbered 1..N). */
int pprof__decode(const void *data, size_t len, struct pprof_profile **out, struct errmsg *e);
/* Decompress (by magic bytes) then decode. */
int pprof__decode_any(const void *data, size_t len, struct pprof_profile **out,
		      struct errmsg *e);

/* Validate strictly (ids 1..N) and stream the encoding into w; the caller
 * finishes w. */
int pprof__encode(const struct pprof_profile *p, struct compress_writer *w, struct errmsg *e);

/* Stream samples [first, first + n) of p with all of its tables, as one
 * profile, into w; p itself is not changed. Not validated again: p must
 * pass strict validation (pprof__validate), and then so does any subset of
 * its samples. -ERANGE when the range is not within p's samples. */
int pprof__encode_samples(const struct pprof_profile *p, size_t first, size_t n,
			  struct compress_writer *w, struct errmsg *e);

/* Bytes of p's uncompressed encoding, without encoding it. */
size_t pprof__encoded_size(const struct pprof_profile *p);

#endif
