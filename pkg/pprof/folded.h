/* A profile rendered as folded stacks. */
#ifndef BPPROF_PPROF_FOLDED_H
#define BPPROF_PPROF_FOLDED_H

#include <stddef.h>

#include "base/errmsg.h"
#include "compress/compress.h"
#include "pprof/profile.h"

/* Folded stacks: one line per distinct stack, root first, frames joined by
 * ';', then a space and the sum of sample type sample_index, in first-seen
 * order; totals <= 0 are left out. Inlined lines follow their caller; a
 * location without lines is its binary's name in brackets ("[gzip]") as
 * pprof shows it, or "[unknown]" with no binary (as a sample without
 * locations is). */
int folded__write(const struct pprof_profile *p, size_t sample_index,
		  compress_sink_fn *sink, void *ctx, struct errmsg *e);

#endif
