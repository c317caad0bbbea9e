/* Files read whole (bounded by the buffer's limit) and directories made
 * and checked before files are added to them. */
#ifndef BPPROF_FILEIO_FILEIO_H
#define BPPROF_FILEIO_FILEIO_H

#include <stdbool.h>

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

/* Read a whole file (or "-" for stdin) into out, bounded by out->limit. */
int fileio__read_all(const char *path, struct buf *out, struct errmsg *e);

#endif
