/* Profiles to files: pprof (gzip, zstd or plain) or folded stacks, written
 * atomically; the one place that turns "a profile, a path, a format" into a
 * file, for record, run's output directory and convert. */
#ifndef BPPROF_EXPORT_SINK_H
#define BPPROF_EXPORT_SINK_H

#include "base/errmsg.h"
#include "compress/compress.h"
#include "pprof/profile.h"

enum sink_format { SINK_PPROF, SINK_FOLDED };

/* The compression an output gets unless chosen: by its suffix (.gz .zst,
 * .pb .folded .txt none), else gzip for pprof and none for folded. */
enum compress_kind sink__output_compression(const char *path, enum sink_format f);

/* Write p to path ("-": stdout) as pprof or folded stacks (of sample_type,
 * NULL: samples where present, else pprof's default), atomically: the file
 * appears whole or not at all. */
int sink__write(const struct pprof_profile *p, const char *path, enum sink_format f,
		enum compress_kind kind, int level, const char *sample_type, struct errmsg *e);

/* Before spending time on a capture: can path be written? 0, or negative
 * errno with e naming the path and the problem. Nothing is left behind. */
int sink__probe(const char *path, struct errmsg *e);

#endif
