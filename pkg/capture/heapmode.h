/* Which way a heap capture samples: in the command's process through the
 * preload library, or with uprobes on the allocator (a -p process, and a
 * command the library cannot reach). */
#ifndef BPPROF_CAPTURE_HEAPMODE_H
#define BPPROF_CAPTURE_HEAPMODE_H
#include <limits.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "capture/capture.h"
#include "collect/preload.h"

struct heap_mode_choice {
	enum heap_mode mode;		/* PRELOAD or UPROBE */
	char why[PRELOAD_WHY_LEN];	/* UPROBE: why not preload */
	char lib[PATH_MAX];		/* PRELOAD: the library */
	uint64_t token;			/* PRELOAD: the session's, never 0 */
	char **env;			/* PRELOAD: the command's environment */
};

/* Decide from o (heap_mode, the target, --heap-mmap) and the command's
 * executable. 0; or -EINVAL with e set when --heap-mode preload was asked
 * for and cannot be; -ENOMEM. */
int heap_mode__choose(const struct capture_opts *o, struct heap_mode_choice *c, struct errmsg *e);
void heap_mode__release(struct heap_mode_choice *c);
/* "preload" or "uprobe" */
const char *heap_mode__name(enum heap_mode m);

#endif
