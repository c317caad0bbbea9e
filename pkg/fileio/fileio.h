/* Files read whole (bounded by the buffer's limit) and directories made
 * and checked before files are added to them. */
#ifndef BPPROF_FILEIO_FILEIO_H
#define BPPROF_FILEIO_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/errmsg.h"

/* Create dir and the parents it lacks (with mode), then check it is a
 * directory we may add files to: 0, or -errno with e saying
 * "DIR: not a directory", "DIR: not writable: ..." or "DIR: cannot
 * create: ...". */
int fileio__make_dir(const char *dir, unsigned mode, struct errmsg *e);
/* Make this process dir's one owner for `use` ("spool", "output"): a flock
 * on DIR/NAME held while the returned descriptor is open (it goes with the
 * process, so a killed owner leaves none behind), our pid written in it.
 * The descriptor, or -EBUSY with e naming the pid that holds it, or
 * -errno. */
int fileio__lock_dir(const char *dir, const char *name, const char *use, struct errmsg *e);

/* A cache directory (made 0700 when missing) is used only if it is this
 * user's and no one else may write to it: true when dir is, otherwise false
 * with one warning per process naming it. */
bool fileio__private_dir(const char *dir);

/* dir/name written whole: a temporary file (.NAME.PID.tmp, 0600) renamed
 * into place, so a reader sees the old file, the new one or none. 0 or
 * -errno (no file left behind). */
int fileio__write_new(const char *dir, const char *name, const void *data, size_t len);
/* This program's GNU build-id (what a cache of its own results is keyed by:
 * another build of bpprof may compute them otherwise): its length, 0 when
 * it has none. */
size_t fileio__self_build_id(const uint8_t **id);

#define FILEIO_CACHE_BUDGET	(512ull << 20)	/* of a cache directory's files */
#define FILEIO_CACHE_KEY	16		/* bytes of a cache file's key */
#define FILEIO_CACHE_NAME	(2 * FILEIO_CACHE_KEY + 9)	/* <32 hex digits>.<ext>, NUL */

/* A cache file's name: its key in hex, then "." and ext (1-7 letters). */
void fileio__cache_name(const unsigned char key[FILEIO_CACHE_KEY], const char *ext,
			char out[FILEIO_CACHE_NAME]);

/* The cache directory open as dfd over budget bytes: its least recently
 * used files (named <32 hex digits>.<ext>; a hit touches its file's mtime)
 * go, down to three quarters of it, keeping `keep` (NULL: none); files a
 * dead run left unfinished go after an hour. */
void fileio__cache_trim(int dfd, const char *keep, uint64_t budget);

/* Read a whole file (or "-" for stdin) into out, bounded by out->limit. */
int fileio__read_all(const char *path, struct buf *out, struct errmsg *e);

#endif
