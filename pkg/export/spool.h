/* The spool: a bounded directory of profiles that could not be delivered
 * yet, kept in the order of their sequence numbers and found again after a
 * restart. Each entry is a zstd-compressed pprof
 * (NNNNNNNNNNNNNNNNNNNN-KIND.pb.zst, a sequence number then a kind),
 * written atomically; when the next one would not fit in max_bytes, the
 * oldest are dropped and counted. A directory has one owner at a time: a
 * lock (flock on DIR/.lock, holding the owner's pid) keeps a second
 * process out. Not thread-safe: the owner serialises its calls. */
#ifndef BPPROF_EXPORT_SPOOL_H
#define BPPROF_EXPORT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/errmsg.h"
#include "fileio/out_file.h"

#define SPOOL_MAX_ENTRIES	100000u
#define SPOOL_MAX_ENTRY_BYTES	(256u << 20)	/* one pprof, uncompressed */

#define SPOOL_SEQ_NEXT		UINT64_MAX	/* after every entry there is */
#define SPOOL_LOCK_NAME		".lock"

struct spool_stats {
	uint64_t bytes;			/* on disk now */
	uint64_t entries;		/* on disk now */
	uint64_t dropped;		/* entries dropped to make room */
	uint64_t dropped_bytes;
	uint64_t unreadable;		/* entries found corrupt or gone, removed */
};

struct spool;

/* Create dir if needed (mode 0700), take its lock (-EBUSY, naming the pid
 * that holds it, when another process has it), remove temporaries a killed
 * process left, index the entries there. NULL with errno and e set. */
struct spool *spool__open(const char *dir, uint64_t max_bytes, struct errmsg *e);
void spool__free(struct spool *s);

/* Compress and store one pprof (plain protobuf bytes); kind is a short
 * [a-z0-9] word (cpu, heap). Drops the oldest entries to make room; one
 * bigger than max_bytes alone is refused (-EFBIG). -ENOSPC and other write
 * errors leave the spool as it was. */
int spool__put(struct spool *s, const void *pprof, size_t len, const char *kind,
	       struct errmsg *e);
/* The same for a pprof that fill streams (plain protobuf) into the writer
 * it is given, so that it is encoded straight into the entry; one over
 * SPOOL_MAX_ENTRY_BYTES uncompressed is refused (-EFBIG). seq places it
 * among the entries (a caller numbering its windows ahead, from
 * spool__next_seq, keeps their order whichever is put first), or
 * SPOOL_SEQ_NEXT; a seq in use is -EEXIST. The entry's size on disk in
 * *bytes when not NULL. */
int spool__put_fill(struct spool *s, uint64_t seq, out_file_fill_fn *fill, void *arg,
		    const char *kind, uint64_t *bytes, struct errmsg *e);
/* The number the next entry put with SPOOL_SEQ_NEXT would get. */
uint64_t spool__next_seq(const struct spool *s);
/* The oldest entry, decompressed into out (cleared first); its file name
 * in name. -ENOENT when empty. An entry that cannot be read is removed,
 * said, counted as unreadable, and the next one is tried. */
int spool__peek(struct spool *s, struct buf *out, char *name, size_t name_len,
		struct errmsg *e);
/* Remove the oldest entry (after its delivery, or when refused for good). */
int spool__pop(struct spool *s);
void spool__stats(const struct spool *s, struct spool_stats *st);

#endif
