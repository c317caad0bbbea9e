/* The daemon's file sink: one file per window and kind, named by the
 * window's start (cpu-20261123T101500.000Z.pb.gz), so names sort by time;
 * pruned to the newest N per kind and/or to a maximum age. */
#ifndef BPPROF_EXPORT_OUTDIR_H
#define BPPROF_EXPORT_OUTDIR_H

#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "compress/compress.h"

struct pprof_profile;

struct outdir_opts {
	const char *dir;
	enum compress_kind compress;
	int level;
	unsigned retain;		/* keep the newest N per kind; 0: all */
	double retain_age;		/* seconds; 0: any age */
};

#define OUTDIR_LOCK_NAME	".bpprof.lock"

/* Create dir if needed, check it takes files, and make this process its
 * one writer (fileio__lock_dir: two daemons' retention would prune each
 * other's windows). The lock's descriptor, to close when done, or -errno
 * with e saying why. */
int outdir__open(const char *dir, struct errmsg *e);
/* Encode one window's profile into its file atomically, then prune that
 * kind. The file's path in path. */
int outdir__write(const struct outdir_opts *o, const struct pprof_profile *profile,
		  const char *kind, int64_t time_nanos, char *path, size_t path_len,
		  struct errmsg *e);
/* Remove kind's files past the newest o->retain or older than
 * o->retain_age (by the time in their names): how many, or -errno. Files
 * not named as this sink names them are never touched. */
int outdir__prune(const struct outdir_opts *o, const char *kind, int64_t now_nanos);

#endif
